#pragma once
// A host tensor: element type, concrete shape and a reference-counted byte buffer. Used for
// initializers (weights), folded constants and shape-tensor values. Backends see tensors through
// TensorView (backends/tensor_view.h), never through this class's ownership.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/dtype.h"

namespace kiln {

using Shape = std::vector<int64_t>;

/// Number of elements of a concrete shape (1 for a scalar).
int64_t shapeElementCount(const Shape& shape);
/// "1x3x224x224"; a scalar is "" (trtexec's spelling); with brackets when `bracketed`: "(1, 3, 224, 224)".
std::string shapeToString(const Shape& shape, bool bracketed = false);

class Tensor {
public:
    Tensor() = default;

    /// A new zero-filled tensor that owns its storage (64-byte aligned).
    static Tensor allocate(DataType type, Shape shape);
    /// A tensor over external memory kept alive by `owner` (e.g. a mapped engine file).
    static Tensor wrap(DataType type, Shape shape, void* data, std::shared_ptr<void> owner);
    /// A 1-D int64 tensor holding `values` (handy for shape tensors).
    static Tensor fromInt64(const std::vector<int64_t>& values, Shape shape);
    static Tensor scalarFloat(float value);
    /// A kSTRING tensor that owns copies of `values` (its StringViews point into its own storage).
    static Tensor fromStrings(const std::vector<std::string_view>& values, Shape shape);

    DataType dtype() const { return mType; }
    const Shape& shape() const { return mShape; }
    int64_t rank() const { return static_cast<int64_t>(mShape.size()); }
    int64_t elementCount() const { return shapeElementCount(mShape); }
    size_t byteSize() const { return static_cast<size_t>(elementCount()) * dataTypeSize(mType); }
    bool empty() const { return mData == nullptr && elementCount() != 0; }

    void* data() { return mData; }
    const void* data() const { return mData; }
    template <typename T>
    T* data() { return static_cast<T*>(mData); }
    template <typename T>
    const T* data() const { return static_cast<const T*>(mData); }

    /// Elements converted to int64 (integer, bool or floating types).
    std::vector<int64_t> toInt64Vector() const;
    /// Elements converted to double.
    std::vector<double> toDoubleVector() const;
    /// Element i converted to double.
    double elementAsDouble(int64_t i) const;

    /// The elements of a kSTRING tensor.
    std::vector<std::string_view> strings() const;

    /// A deep copy with its own storage (for strings, of the bytes too).
    Tensor clone() const;
    /// Same bytes, another shape of the same element count.
    Tensor reshaped(Shape shape) const;

private:
    DataType mType{DataType::kFLOAT};
    Shape mShape;
    std::shared_ptr<void> mOwner;
    void* mData{nullptr};
};

}  // namespace kiln
