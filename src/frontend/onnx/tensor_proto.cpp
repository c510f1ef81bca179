#include "frontend/onnx/tensor_proto.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

#include "frontend/onnx/external_data.h"
#include "frontend/onnx/packed_elements.h"
#include "ir/onnx_types.h"

namespace kiln::onnx_import {

// raw_data and external data hold little-endian elements; they are copied byte for byte, which is
// right only on a little-endian host (every target Kiln builds for).
static_assert(std::endian::native == std::endian::little, "the ONNX importer assumes a little-endian host");

std::string onnxTypeName(int64_t onnxType) {
    if (onnxType < std::numeric_limits<int>::min() || onnxType > std::numeric_limits<int>::max() ||
        !onnx::TensorProto_DataType_IsValid(static_cast<int>(onnxType)))
        return "element type " + std::to_string(onnxType);
    std::string name = onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(onnxType));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
}

namespace {

/// The shape of `proto`, refusing negative extents and element counts whose byte size overflows.
Expected<Shape> shapeOf(const onnx::TensorProto& proto, DataType type, const std::string& what) {
    Shape shape(proto.dims().begin(), proto.dims().end());
    uint64_t bytes = dataTypeSize(type);
    bool overflow = false;
    for (int64_t d : shape) {
        if (d < 0) return invalidModel(what + " has a negative dimension in its shape " + shapeToString(shape, true));
        overflow = overflow || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes);
    }
    // An element count this large cannot be real data; refusing it keeps later size arithmetic
    // (int64 element counts, size_t byte sizes) free of overflow.
    if (overflow || bytes > (uint64_t{1} << 62))
        return invalidModel(what + " has an impossibly large shape " + shapeToString(shape, true));
    return shape;
}

template <typename T, typename Source>
void storeElement(T& dst, Source value) {
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        // onnx.proto: (b)float16 values travel in int32_data as their 16-bit patterns.
        dst.bits = static_cast<uint16_t>(value);
    } else if constexpr (std::is_same_v<T, bool>) {
        dst = value != 0;
    } else {
        dst = static_cast<T>(value);
    }
}

/// Copies a typed repeated field into a new tensor, converting each element to the tensor's type.
template <typename Field>
Expected<Tensor> fromTypedField(const Field& values, const char* fieldName, DataType type, const Shape& shape,
                                const std::string& what) {
    int64_t count = shapeElementCount(shape);
    // Checked before allocating, so a corrupt shape cannot ask for an absurd allocation.
    if (static_cast<int64_t>(values.size()) != count)
        return invalidModel(what + ": " + fieldName + " holds " + std::to_string(values.size()) + " values, but a " +
                            dataTypeName(type) + " tensor of shape " + shapeToString(shape, true) + " has " +
                            std::to_string(count));
    Tensor tensor = Tensor::allocate(type, shape);
    dispatchDataType(type, [&](auto tag) {
        using T = decltype(tag);
        T* out = tensor.data<T>();
        for (int64_t i = 0; i < count; ++i) storeElement(out[i], values[static_cast<int>(i)]);
    });
    return tensor;
}

/// A tensor of packed `type` (onnxElementsPerByte > 1) from its packed bytes, which must be
/// exactly onnxPackedByteSize; `source` names where they came from in the error.
Expected<Tensor> unpackedTensor(const uint8_t* packed, uint64_t byteCount, const char* source, DataType type,
                                const Shape& shape, const std::string& what) {
    const int64_t count = shapeElementCount(shape);
    const uint64_t expected = onnxPackedByteSize(type, count);
    if (byteCount != expected)
        return invalidModel(what + ": " + source + " holds " + std::to_string(byteCount) + " packed bytes, but a " +
                            dataTypeName(type) + " tensor of shape " + shapeToString(shape, true) + " needs " +
                            std::to_string(expected) + " (" + std::to_string(onnxElementsPerByte(type)) +
                            " elements per byte)");
    Tensor tensor = Tensor::allocate(type, shape);
    unpackElements(type, packed, count, tensor.data<uint8_t>());
    return tensor;
}

/// The packed bytes of a sub-byte type held in int32_data, one byte per entry (onnx.proto).
Expected<Tensor> fromPackedInt32Field(const onnx::TensorProto& proto, DataType type, const Shape& shape,
                                      const std::string& what) {
    std::vector<uint8_t> packed(static_cast<size_t>(proto.int32_data_size()));
    for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(proto.int32_data(static_cast<int>(i)));
    return unpackedTensor(packed.data(), packed.size(), "int32_data", type, shape, what);
}

/// The typed field that onnx.proto assigns to `type`.
Expected<Tensor> fromTypedFields(const onnx::TensorProto& proto, DataType type, const Shape& shape,
                                 const std::string& what) {
    switch (type) {
        case DataType::kFLOAT:
            return fromTypedField(proto.float_data(), "float_data", type, shape, what);
        case DataType::kDOUBLE:
            return fromTypedField(proto.double_data(), "double_data", type, shape, what);
        case DataType::kINT64:
            return fromTypedField(proto.int64_data(), "int64_data", type, shape, what);
        case DataType::kUINT32:
        case DataType::kUINT64:
            return fromTypedField(proto.uint64_data(), "uint64_data", type, shape, what);
        case DataType::kHALF:
        case DataType::kBF16:
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT16:
        case DataType::kUINT16:
        case DataType::kINT32:
        case DataType::kBOOL:
        // float8 values travel in int32_data as their 8-bit codes, one per entry.
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
            return fromTypedField(proto.int32_data(), "int32_data", type, shape, what);
        case DataType::kINT4:
        case DataType::kUINT4:
        case DataType::kINT2:
        case DataType::kUINT2:
        case DataType::kFP4E2M1:
            return fromPackedInt32Field(proto, type, shape, what);
        case DataType::kSTRING: {
            int64_t count = shapeElementCount(shape);
            if (static_cast<int64_t>(proto.string_data_size()) != count)
                return invalidModel(what + ": string_data holds " + std::to_string(proto.string_data_size()) +
                                    " values, but a string tensor of shape " + shapeToString(shape, true) + " has " +
                                    std::to_string(count));
            std::vector<std::string_view> values(proto.string_data().begin(), proto.string_data().end());
            return Tensor::fromStrings(values, shape);
        }
    }
    return internalError(what + ": unhandled element type");
}

Expected<Tensor> fromRawData(onnx::TensorProto& proto, DataType type, const Shape& shape, const std::string& what) {
    std::unique_ptr<std::string> raw(proto.release_raw_data());
    if (onnxElementsPerByte(type) > 1)
        return unpackedTensor(reinterpret_cast<const uint8_t*>(raw->data()), raw->size(), "raw_data", type, shape,
                              what);
    size_t bytes = static_cast<size_t>(shapeElementCount(shape)) * dataTypeSize(type);
    if (raw->size() != bytes)
        return invalidModel(what + ": raw_data holds " + std::to_string(raw->size()) + " bytes, but a " +
                            dataTypeName(type) + " tensor of shape " + shapeToString(shape, true) + " needs " +
                            std::to_string(bytes));
    Tensor tensor = Tensor::allocate(type, shape);
    if (bytes) std::memcpy(tensor.data(), raw->data(), bytes);
    return tensor;
}

}  // namespace

Expected<Tensor> tensorFromProto(onnx::TensorProto& proto, const std::string& what, const std::string& modelDir) {
    std::optional<DataType> type = dataTypeFromOnnx(proto.data_type());
    if (!type)
        return unsupported(what + " has element type " + onnxTypeName(proto.data_type()) +
                           ", which Kiln does not support");
    if (proto.has_segment()) return unsupported(what + " is stored in segments, which Kiln does not support");
    KILN_ASSIGN_OR_RETURN(Shape shape, shapeOf(proto, *type, what));

    // onnx.proto: strings travel only in string_data (raw_data cannot hold variable-length elements).
    if (*type == DataType::kSTRING && (proto.has_raw_data() || proto.data_location() == onnx::TensorProto::EXTERNAL))
        return invalidModel(what + " is a string tensor stored in raw_data or external data; strings belong in string_data");
    if (proto.data_location() == onnx::TensorProto::EXTERNAL)
        return readExternalData(proto, *type, shape, what, modelDir);
    if (proto.has_raw_data()) return fromRawData(proto, *type, shape, what);
    return fromTypedFields(proto, *type, shape, what);
}

}  // namespace kiln::onnx_import
