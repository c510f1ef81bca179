#include "surgeon/tensor_proto_writer.h"

#include <bit>
#include <cstring>

#include "frontend/onnx/packed_elements.h"
#include "ir/dtype.h"
#include "ir/onnx_types.h"

namespace kiln::surgeon {

// raw_data is little-endian; the bytes are copied as they are (tensor_proto.cpp reads them the same way).
static_assert(std::endian::native == std::endian::little, "writing raw_data assumes a little-endian host");

namespace {

/// Kiln keeps one sub-byte element per byte (the int types sign-extended); ONNX packs them, the
/// first element in the lowest bits.
std::string packElements(DataType type, const uint8_t* elements, int64_t count) {
    const int bits = dataTypeBits(type);
    const int64_t perByte = 8 / bits;
    const unsigned mask = (1u << bits) - 1u;
    std::string packed(onnx_import::onnxPackedByteSize(type, count), '\0');
    for (int64_t i = 0; i < count; ++i) {
        const unsigned field = elements[i] & mask;
        packed[static_cast<size_t>(i / perByte)] |= static_cast<char>(field << ((i % perByte) * bits));
    }
    return packed;
}

}  // namespace

void writeTensorProto(const Tensor& tensor, const std::string& name, onnx::TensorProto& proto) {
    proto.Clear();
    proto.set_name(name);
    proto.set_data_type(static_cast<int32_t>(dataTypeToOnnx(tensor.dtype())));
    for (int64_t d : tensor.shape()) proto.add_dims(d);
    if (tensor.dtype() == DataType::kSTRING) {
        for (std::string_view s : tensor.strings()) proto.add_string_data(std::string(s));
        return;
    }
    const auto* bytes = static_cast<const uint8_t*>(tensor.data());
    if (onnx_import::onnxElementsPerByte(tensor.dtype()) > 1) {
        proto.set_raw_data(packElements(tensor.dtype(), bytes, tensor.elementCount()));
        return;
    }
    // An empty tensor may have no storage at all.
    if (tensor.byteSize() == 0) {
        proto.set_raw_data("");
        return;
    }
    proto.set_raw_data(std::string(reinterpret_cast<const char*>(bytes), tensor.byteSize()));
}

}  // namespace kiln::surgeon
