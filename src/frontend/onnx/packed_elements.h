#pragma once
// ONNX packs its sub-byte element types: two int4 / uint4 / float4e2m1 elements per byte, four
// int2 / uint2, the first element in the lowest bits. Kiln keeps one element per byte (see
// DataType in include/kiln/types.h), so tensor data is unpacked where it enters from an ONNX file.

#include <cstdint>

#include "kiln/types.h"

namespace kiln::onnx_import {

/// Elements of `type` that ONNX packs into one byte: 2 for the 4-bit types, 4 for the 2-bit
/// types, 1 for every other type.
int64_t onnxElementsPerByte(DataType type);

/// Bytes ONNX uses for `count` elements of `type` (a partly filled last byte counts whole);
/// `count` * dataTypeSize(`type`) for the types it does not pack.
uint64_t onnxPackedByteSize(DataType type, int64_t count);

/// Unpacks `count` elements of a packed `type` from `packed` (onnxPackedByteSize bytes) into
/// `out`, one per byte: int4 and int2 sign-extended, the others in the low bits.
void unpackElements(DataType type, const uint8_t* packed, int64_t count, uint8_t* out);

}  // namespace kiln::onnx_import
