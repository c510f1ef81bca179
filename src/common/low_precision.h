#pragma once
// Exact conversions between double and the low-bit element types: float8 (e4m3fn, e4m3fnuz, e5m2,
// e5m2fnuz, e8m0), float4e2m1 and the 4- and 2-bit integers, following ONNX's Cast rules. Kiln
// stores every one of these types one element per byte (see DataType in include/kiln/types.h);
// the functions here read and write that byte. Cast, QuantizeLinear and DequantizeLinear convert
// through them, and so do the ONNX importer and Tensor's element accessors. The rules themselves
// are in common/low_precision_rules.h, which the CUDA kernels compile too.

#include <cstdint>

#include "common/low_precision_rules.h"
#include "kiln/types.h"

namespace kiln {

/// Whether `type` is one of the low-bit types (float8, float4, int4, uint4, int2, uint2). Only the
/// conversions here and kernels that move bytes handle them; arithmetic kernels refuse them.
bool isLowBitType(DataType type) noexcept;
/// int4, uint4, int2 and uint2.
bool isLowBitIntegerType(DataType type) noexcept;

/// The value of one stored element of low-bit `type` (NaN where the code is NaN). For a type that
/// is not low-bit the result is NaN.
double lowBitToDouble(DataType type, uint8_t stored) noexcept;

/// `value` as a stored element of low-bit `type`. Floating formats round to nearest, ties to even
/// (e8m0 as `mode` says) and treat overflow as `mode.saturate` says; a NaN stays NaN, except in
/// float4e2m1, which has no NaN and gives +0 (as ONNX's reference does, a zero). The fnuz formats
/// have no -0: a negative value that rounds to zero gives +0. e8m0 has no sign: a negative value
/// converts as its magnitude (ONNX leaves it unspecified). The integer types truncate toward zero
/// and keep the low bits, as an integer cast does; NaN, infinities and values beyond int64 give 0
/// (ONNX leaves float to integer overflow undefined).
uint8_t lowBitFromDouble(DataType type, double value, LowBitCastMode mode = {}) noexcept;

/// An integer as a stored element of low-bit `type`: the integer types keep its low bits (ONNX's
/// rule for integer casts), the floating formats convert its value as lowBitFromDouble does.
uint8_t lowBitFromInteger(DataType type, int64_t value, LowBitCastMode mode = {}) noexcept;

/// The smallest and largest value of a low-bit integer type ([-8, 7] for int4, [0, 3] for uint2).
IntegerRange lowBitIntegerRange(DataType type) noexcept;

}  // namespace kiln
