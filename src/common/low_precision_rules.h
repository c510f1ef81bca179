#pragma once
// The one definition of the conversions between double and the low-bit element types (float8
// e4m3fn / e4m3fnuz / e5m2 / e5m2fnuz / e8m0, float4e2m1, int4, uint4, int2, uint2), following
// ONNX's Cast rules: how each stored byte decodes, how a value rounds (to nearest, ties to even),
// and what overflow, NaN and -0 become. Every function is KILN_HD: common/low_precision.cpp (the
// host API of common/low_precision.h) and the CUDA kernels (Cast, QuantizeLinear, ...) call the
// same code, so the two backends agree bit for bit.
//
// Only <math.h> functions that CUDA also provides for the device are used (ldexp, ilogb, frexp,
// nearbyint, trunc, fabs, copysign); the rounding mode is never changed from its default
// (to nearest even) on either side, so nearbyint rounds half to even.

#include <math.h>

#include <cstdint>

#include "common/host_device.h"
#include "kiln/types.h"

namespace kiln {

/// Cast's `round_mode` for float8e8m0, whose values are the powers of two: which of the two powers
/// around a value it becomes.
enum class E8M0Rounding {
    kUp,       ///< the larger one, unless the value is a power of two itself (ONNX's default)
    kDown,     ///< the smaller one
    kNearest,  ///< the nearer one; a value halfway (1.5 * 2^e) goes to the larger
};

/// The attributes of Cast (and QuantizeLinear) that shape a conversion to a low-bit type.
struct LowBitCastMode {
    /// Cast's `saturate` (default 1): a value beyond the largest finite value, infinity included,
    /// becomes that largest value. When false it becomes NaN (e4m3fn, the fnuz types, e8m0) or
    /// infinity (e5m2). float4e2m1 has neither and always saturates; the integers wrap instead.
    bool saturate{true};
    E8M0Rounding e8m0Rounding{E8M0Rounding::kUp};
};

/// The smallest and largest value of a low-bit integer type ([-8, 7] for int4, [0, 3] for uint2).
struct IntegerRange {
    int64_t lowest;
    int64_t highest;
};

namespace lowbit {

/// How a small binary floating format spends its top codes.
enum class Specials {
    kIeee,             // e5m2: the top exponent holds infinities and NaNs, as in IEEE 754
    kAllOnesNaN,       // e4m3fn: only S.1111.111 is NaN; no infinities
    kNegativeZeroNaN,  // the fnuz formats: 1.0000.000 (the "-0") is the only NaN; no infinities
    kNone,             // float4e2m1: every code is a finite number
};

/// One of the sign / exponent / mantissa formats (every low-bit float but e8m0).
struct MiniFloat {
    int exponentBits;
    int mantissaBits;
    int bias;
    Specials specials;

    KILN_HD int signShift() const { return exponentBits + mantissaBits; }
    KILN_HD uint8_t signBit() const { return static_cast<uint8_t>(1u << signShift()); }
    KILN_HD uint8_t maxExponentField() const { return static_cast<uint8_t>((1u << exponentBits) - 1u); }
    KILN_HD uint8_t mantissaMask() const { return static_cast<uint8_t>((1u << mantissaBits) - 1u); }
    /// The code of the largest finite value, without sign.
    KILN_HD uint8_t maxFiniteCode() const {
        const uint8_t all = static_cast<uint8_t>(signBit() - 1u);
        switch (specials) {
            case Specials::kIeee:
                return static_cast<uint8_t>(all - mantissaMask() - 1u);  // top exponent, mantissa 0, minus one
            case Specials::kAllOnesNaN:
                return static_cast<uint8_t>(all - 1u);
            case Specials::kNegativeZeroNaN:
            case Specials::kNone:
                return all;
        }
        return all;
    }
    KILN_HD int minNormalExponent() const { return 1 - bias; }
};

/// The format of `type` in `*format`; false when `type` is not a sign / exponent / mantissa format.
KILN_HD inline bool miniFloatOf(DataType type, MiniFloat* format) {
    switch (type) {
        case DataType::kFP8E4M3FN:
            *format = {4, 3, 7, Specials::kAllOnesNaN};
            return true;
        case DataType::kFP8E4M3FNUZ:
            *format = {4, 3, 8, Specials::kNegativeZeroNaN};
            return true;
        case DataType::kFP8E5M2:
            *format = {5, 2, 15, Specials::kIeee};
            return true;
        case DataType::kFP8E5M2FNUZ:
            *format = {5, 2, 16, Specials::kNegativeZeroNaN};
            return true;
        case DataType::kFP4E2M1:
            *format = {2, 1, 1, Specials::kNone};
            return true;
        default:
            return false;
    }
}

/// int4, uint4, int2 and uint2.
KILN_HD inline bool isInteger(DataType type) {
    return type == DataType::kINT4 || type == DataType::kUINT4 || type == DataType::kINT2 || type == DataType::kUINT2;
}

/// Every low-bit type: the sign / exponent / mantissa formats, e8m0 and the small integers.
KILN_HD inline bool isLowBit(DataType type) {
    MiniFloat unused{};
    return miniFloatOf(type, &unused) || type == DataType::kFP8E8M0 || isInteger(type);
}

KILN_HD inline IntegerRange integerRange(DataType type) {
    switch (type) {
        case DataType::kINT4:
            return {-8, 7};
        case DataType::kUINT4:
            return {0, 15};
        case DataType::kINT2:
            return {-2, 1};
        case DataType::kUINT2:
            return {0, 3};
        default:
            return {0, 0};  // not a low-bit integer type
    }
}

KILN_HD inline double decodeMiniFloat(const MiniFloat& f, uint8_t code) {
    code = static_cast<uint8_t>(code & ((f.signBit() << 1) - 1u));
    const bool negative = (code & f.signBit()) != 0;
    const uint8_t exponent = static_cast<uint8_t>((code >> f.mantissaBits) & f.maxExponentField());
    const uint8_t mantissa = code & f.mantissaMask();
    switch (f.specials) {
        case Specials::kIeee:
            if (exponent == f.maxExponentField())
                return mantissa ? quietNaN() : (negative ? -positiveInfinity() : positiveInfinity());
            break;
        case Specials::kAllOnesNaN:
            if (exponent == f.maxExponentField() && mantissa == f.mantissaMask()) return quietNaN();
            break;
        case Specials::kNegativeZeroNaN:
            if (code == f.signBit()) return quietNaN();
            break;
        case Specials::kNone:
            break;
    }
    const double magnitude =
        exponent == 0 ? ::ldexp(static_cast<double>(mantissa), f.minNormalExponent() - f.mantissaBits)
                      : ::ldexp(static_cast<double>(mantissa | (1u << f.mantissaBits)),
                                exponent - f.bias - f.mantissaBits);
    return negative ? -magnitude : magnitude;
}

/// The code of a finite, non-negative `value` that is exactly representable in `f`.
KILN_HD inline uint8_t encodeExact(const MiniFloat& f, double value) {
    if (value == 0) return 0;
    const int e = ::ilogb(value);
    if (e < f.minNormalExponent())  // subnormal: exponent field 0, mantissa counts the smallest step
        return static_cast<uint8_t>(::ldexp(value, f.mantissaBits - f.minNormalExponent()));
    const uint8_t mantissa = static_cast<uint8_t>(static_cast<uint8_t>(::ldexp(value, f.mantissaBits - e)) &
                                                  f.mantissaMask());
    return static_cast<uint8_t>(((e + f.bias) << f.mantissaBits) | mantissa);
}

KILN_HD inline uint8_t miniFloatNaNCode(const MiniFloat& f, uint8_t sign) {
    switch (f.specials) {
        case Specials::kIeee:
        case Specials::kAllOnesNaN:
            return static_cast<uint8_t>(sign | (f.signBit() - 1u));  // all ones (a quiet NaN in e5m2)
        case Specials::kNegativeZeroNaN:
            return f.signBit();
        case Specials::kNone:
            return 0;  // float4e2m1 has no NaN: ONNX's reference gives a zero
    }
    return 0;
}

KILN_HD inline uint8_t encodeMiniFloat(const MiniFloat& f, double value, bool saturate) {
    const bool negative = ::copysign(1.0, value) < 0;  // the sign bit, also of -0 and -NaN
    const uint8_t sign = negative ? f.signBit() : 0;
    const uint8_t maxCode = f.maxFiniteCode();
    // What a value beyond the largest finite one becomes.
    auto overflow = [&]() -> uint8_t {
        if (saturate || f.specials == Specials::kNone) return static_cast<uint8_t>(sign | maxCode);
        if (f.specials == Specials::kIeee)
            return static_cast<uint8_t>(sign | (f.maxExponentField() << f.mantissaBits));
        return miniFloatNaNCode(f, sign);
    };
    if (value != value) return miniFloatNaNCode(f, sign);
    const double magnitude = ::fabs(value);
    if (magnitude == positiveInfinity()) return overflow();
    // The step between neighbouring values at magnitude's binade (the subnormal step below the
    // normal range). magnitude / step is exact in double, so nearbyint rounds it to nearest even
    // in one exact step.
    int e = f.minNormalExponent();
    if (magnitude != 0 && ::ilogb(magnitude) > e) e = ::ilogb(magnitude);
    const double step = ::ldexp(1.0, e - f.mantissaBits);
    const double rounded = ::nearbyint(magnitude / step) * step;
    if (rounded > decodeMiniFloat(f, maxCode)) return overflow();
    const uint8_t code = encodeExact(f, rounded);
    if (code == 0 && f.specials == Specials::kNegativeZeroNaN) return 0;  // no -0: it is the NaN code
    return static_cast<uint8_t>(sign | code);
}

KILN_HD inline double decodeE8M0(uint8_t code) {
    if (code == 0xFF) return quietNaN();
    return ::ldexp(1.0, static_cast<int>(code) - 127);
}

KILN_HD inline uint8_t encodeE8M0(double value, LowBitCastMode mode) {
    constexpr uint8_t kNaN = 0xFF, kMax = 0xFE, kMin = 0x00;
    if (value != value) return kNaN;
    const double magnitude = ::fabs(value);
    if (magnitude == positiveInfinity()) return mode.saturate ? kMax : kNaN;
    if (magnitude == 0) return mode.saturate ? kMin : kNaN;  // below the smallest value, 2^-127
    int exponent = 0;
    const double fraction = ::frexp(magnitude, &exponent);  // magnitude = fraction * 2^exponent, fraction in [0.5, 1)
    int power = exponent - 1;                               // magnitude = (2 * fraction) * 2^power
    switch (mode.e8m0Rounding) {
        case E8M0Rounding::kUp:
            power += fraction > 0.5 ? 1 : 0;
            break;
        case E8M0Rounding::kDown:
            break;
        case E8M0Rounding::kNearest:
            power += fraction >= 0.75 ? 1 : 0;
            break;
    }
    const int code = power + 127;
    if (code > kMax) return mode.saturate ? kMax : kNaN;
    if (code < kMin) return mode.saturate ? kMin : kNaN;
    return static_cast<uint8_t>(code);
}

/// `value`'s low `bits` bits, sign-extended when `isSigned` (Kiln's one-byte storage of int4 / int2).
KILN_HD inline uint8_t wrapInteger(uint64_t value, int bits, bool isSigned) {
    const uint64_t mask = (uint64_t{1} << bits) - 1u;
    uint64_t low = value & mask;
    if (isSigned && (low >> (bits - 1)) != 0) low |= ~mask;
    return static_cast<uint8_t>(low);
}

/// The value of one stored element of low-bit `type` (NaN where the code is NaN, and for a type
/// that is not low-bit).
KILN_HD inline double decode(DataType type, uint8_t stored) {
    MiniFloat f{};
    if (miniFloatOf(type, &f)) return decodeMiniFloat(f, stored);
    switch (type) {
        case DataType::kFP8E8M0:
            return decodeE8M0(stored);
        case DataType::kINT4:
            return static_cast<int8_t>(wrapInteger(stored, 4, true));
        case DataType::kUINT4:
            return stored & 0x0Fu;
        case DataType::kINT2:
            return static_cast<int8_t>(wrapInteger(stored, 2, true));
        case DataType::kUINT2:
            return stored & 0x03u;
        default:
            return quietNaN();
    }
}

KILN_HD inline uint8_t encode(DataType type, double value, LowBitCastMode mode);

/// An integer as a stored element of low-bit `type`: the integer types keep its low bits (ONNX's
/// rule for integer casts), the floating formats convert its value as encode() does.
KILN_HD inline uint8_t encodeInteger(DataType type, int64_t value, LowBitCastMode mode) {
    switch (type) {
        case DataType::kINT4:
            return wrapInteger(static_cast<uint64_t>(value), 4, true);
        case DataType::kUINT4:
            return wrapInteger(static_cast<uint64_t>(value), 4, false);
        case DataType::kINT2:
            return wrapInteger(static_cast<uint64_t>(value), 2, true);
        case DataType::kUINT2:
            return wrapInteger(static_cast<uint64_t>(value), 2, false);
        default:
            return encode(type, static_cast<double>(value), mode);
    }
}

/// `value` as a stored element of low-bit `type`: see lowBitFromDouble in common/low_precision.h.
KILN_HD inline uint8_t encode(DataType type, double value, LowBitCastMode mode) {
    MiniFloat f{};
    if (miniFloatOf(type, &f)) return encodeMiniFloat(f, value, mode.saturate);
    if (type == DataType::kFP8E8M0) return encodeE8M0(value, mode);
    if (!isInteger(type)) return 0;
    // [-2^63, 2^63) is where truncation fits int64; outside it (and NaN) the result is 0.
    constexpr double kLimit = 9223372036854775808.0;
    if (!(value >= -kLimit && value < kLimit)) return 0;
    return encodeInteger(type, static_cast<int64_t>(::trunc(value)), mode);
}

/// QuantizeLinear's rule for one element of low-bit type `q`, given `scaled` = x / scale: the 4- and
/// 2-bit integers round half to even, add the zero point and clamp to their range like int8; the
/// float8 and float4 formats take scaled + zero point (the zero point is 0 in practice) rounded to
/// nearest even, overflow handled as `mode.saturate` says.
KILN_HD inline uint8_t quantize(DataType q, double scaled, double zeroPoint, LowBitCastMode mode) {
    if (!isInteger(q)) return encode(q, scaled + zeroPoint, mode);
    const IntegerRange range = integerRange(q);
    double v = ::nearbyint(scaled) + zeroPoint;
    if (v != v) v = 0;  // NaN: undefined in ONNX; 0 as saturateRound gives
    v = v < static_cast<double>(range.lowest) ? static_cast<double>(range.lowest) : v;
    v = v > static_cast<double>(range.highest) ? static_cast<double>(range.highest) : v;
    return encodeInteger(q, static_cast<int64_t>(v), mode);
}

}  // namespace lowbit
}  // namespace kiln
