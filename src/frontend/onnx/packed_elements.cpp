#include "frontend/onnx/packed_elements.h"

#include "common/low_precision.h"
#include "ir/dtype.h"

namespace kiln::onnx_import {

int64_t onnxElementsPerByte(DataType type) {
    const int bits = dataTypeBits(type);
    return bits < 8 ? 8 / bits : 1;
}

uint64_t onnxPackedByteSize(DataType type, int64_t count) {
    const int64_t perByte = onnxElementsPerByte(type);
    if (perByte == 1) return static_cast<uint64_t>(count) * dataTypeSize(type);
    return static_cast<uint64_t>((count + perByte - 1) / perByte);
}

void unpackElements(DataType type, const uint8_t* packed, int64_t count, uint8_t* out) {
    const int bits = dataTypeBits(type);
    const int64_t perByte = 8 / bits;
    const unsigned mask = (1u << bits) - 1u;
    for (int64_t i = 0; i < count; ++i) {
        const unsigned field = (packed[i / perByte] >> ((i % perByte) * bits)) & mask;
        // lowBitFromInteger keeps the low bits and sign-extends int4 / int2; float4e2m1's code
        // is its 4-bit field as it stands.
        out[i] = type == DataType::kFP4E2M1 ? static_cast<uint8_t>(field) : lowBitFromInteger(type, field);
    }
}

}  // namespace kiln::onnx_import
