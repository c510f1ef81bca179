#pragma once
// What a kernel sees of a tensor: element type, concrete shape and a data pointer in the
// backend's memory, and for reshape() the contents on the host when they are known before running.
// No ownership.

#include <cstdint>

#include "ir/tensor.h"

namespace kiln {

struct TensorView {
    DataType dtype{DataType::kFLOAT};
    Shape shape;
    void* data{nullptr};
    /// The contents in host memory when they are known before running (constants, shape-tensor inputs,
    /// values folded at the current shapes), for reshape() only: a kernel that plans from small index
    /// inputs (Slice's starts, a reduction's axes) reads them here instead of synchronizing with the
    /// device to read `data` during every run. Null otherwise.
    const void* hostData{nullptr};

    int64_t rank() const { return static_cast<int64_t>(shape.size()); }
    int64_t elementCount() const { return shapeElementCount(shape); }
    size_t byteSize() const { return static_cast<size_t>(elementCount()) * dataTypeSize(dtype); }
    template <typename T>
    T* as() const { return static_cast<T*>(data); }
};

inline TensorView viewOf(Tensor& t) { return {t.dtype(), t.shape(), t.data()}; }
inline TensorView viewOf(const Tensor& t) { return {t.dtype(), t.shape(), const_cast<void*>(t.data())}; }

}  // namespace kiln
