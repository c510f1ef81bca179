#include "common/low_precision.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln {

namespace {

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

    int signShift() const { return exponentBits + mantissaBits; }
    uint8_t signBit() const { return static_cast<uint8_t>(1u << signShift()); }
    uint8_t maxExponentField() const { return static_cast<uint8_t>((1u << exponentBits) - 1u); }
    uint8_t mantissaMask() const { return static_cast<uint8_t>((1u << mantissaBits) - 1u); }
    /// The code of the largest finite value, without sign.
    uint8_t maxFiniteCode() const {
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
    int minNormalExponent() const { return 1 - bias; }
};

constexpr MiniFloat kE4M3FN{4, 3, 7, Specials::kAllOnesNaN};
constexpr MiniFloat kE4M3FNUZ{4, 3, 8, Specials::kNegativeZeroNaN};
constexpr MiniFloat kE5M2{5, 2, 15, Specials::kIeee};
constexpr MiniFloat kE5M2FNUZ{5, 2, 16, Specials::kNegativeZeroNaN};
constexpr MiniFloat kE2M1{2, 1, 1, Specials::kNone};

const MiniFloat* miniFloatOf(DataType type) {
    switch (type) {
        case DataType::kFP8E4M3FN:
            return &kE4M3FN;
        case DataType::kFP8E4M3FNUZ:
            return &kE4M3FNUZ;
        case DataType::kFP8E5M2:
            return &kE5M2;
        case DataType::kFP8E5M2FNUZ:
            return &kE5M2FNUZ;
        case DataType::kFP4E2M1:
            return &kE2M1;
        default:
            return nullptr;  // not a sign / exponent / mantissa format
    }
}

double decodeMiniFloat(const MiniFloat& f, uint8_t code) {
    code = static_cast<uint8_t>(code & ((f.signBit() << 1) - 1u));
    const bool negative = (code & f.signBit()) != 0;
    const uint8_t exponent = static_cast<uint8_t>((code >> f.mantissaBits) & f.maxExponentField());
    const uint8_t mantissa = code & f.mantissaMask();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    switch (f.specials) {
        case Specials::kIeee:
            if (exponent == f.maxExponentField())
                return mantissa ? nan
                                : (negative ? -std::numeric_limits<double>::infinity()
                                            : std::numeric_limits<double>::infinity());
            break;
        case Specials::kAllOnesNaN:
            if (exponent == f.maxExponentField() && mantissa == f.mantissaMask()) return nan;
            break;
        case Specials::kNegativeZeroNaN:
            if (code == f.signBit()) return nan;
            break;
        case Specials::kNone:
            break;
    }
    const double magnitude =
        exponent == 0
            ? std::ldexp(static_cast<double>(mantissa), f.minNormalExponent() - f.mantissaBits)
            : std::ldexp(static_cast<double>(mantissa | (1u << f.mantissaBits)), exponent - f.bias - f.mantissaBits);
    return negative ? -magnitude : magnitude;
}

/// The code of a finite, non-negative `value` that is exactly representable in `f`.
uint8_t encodeExact(const MiniFloat& f, double value) {
    if (value == 0) return 0;
    int e = std::ilogb(value);
    if (e < f.minNormalExponent())  // subnormal: exponent field 0, mantissa counts the smallest step
        return static_cast<uint8_t>(std::ldexp(value, f.mantissaBits - f.minNormalExponent()));
    const uint8_t mantissa = static_cast<uint8_t>(std::ldexp(value, f.mantissaBits - e)) & f.mantissaMask();
    return static_cast<uint8_t>(((e + f.bias) << f.mantissaBits) | mantissa);
}

uint8_t encodeMiniFloat(const MiniFloat& f, double value, bool saturate) {
    const bool negative = std::signbit(value);
    const uint8_t sign = negative ? f.signBit() : 0;
    const uint8_t maxCode = f.maxFiniteCode();
    auto nanCode = [&]() -> uint8_t {
        switch (f.specials) {
            case Specials::kIeee:
                return static_cast<uint8_t>(sign | (f.signBit() - 1u));  // all ones: a quiet NaN
            case Specials::kAllOnesNaN:
                return static_cast<uint8_t>(sign | (f.signBit() - 1u));
            case Specials::kNegativeZeroNaN:
                return f.signBit();
            case Specials::kNone:
                return 0;
        }
        return 0;
    };
    // What a value beyond the largest finite one becomes.
    auto overflow = [&]() -> uint8_t {
        if (saturate || f.specials == Specials::kNone) return static_cast<uint8_t>(sign | maxCode);
        if (f.specials == Specials::kIeee) return static_cast<uint8_t>(sign | (f.maxExponentField() << f.mantissaBits));
        return nanCode();
    };
    if (std::isnan(value)) return nanCode();
    const double magnitude = std::fabs(value);
    if (std::isinf(magnitude)) return overflow();
    // The step between neighbouring values at magnitude's binade (the subnormal step below the
    // normal range). magnitude / step is exact in double, so nearbyint rounds it to nearest even
    // (the rounding mode is never changed from its default) in one exact step.
    const int e = magnitude == 0 ? f.minNormalExponent() : std::max(std::ilogb(magnitude), f.minNormalExponent());
    const double step = std::ldexp(1.0, e - f.mantissaBits);
    const double rounded = std::nearbyint(magnitude / step) * step;
    if (rounded > decodeMiniFloat(f, maxCode)) return overflow();
    const uint8_t code = encodeExact(f, rounded);
    if (code == 0 && f.specials == Specials::kNegativeZeroNaN) return 0;  // no -0: it is the NaN code
    return static_cast<uint8_t>(sign | code);
}

double decodeE8M0(uint8_t code) {
    if (code == 0xFF) return std::numeric_limits<double>::quiet_NaN();
    return std::ldexp(1.0, static_cast<int>(code) - 127);
}

uint8_t encodeE8M0(double value, LowBitCastMode mode) {
    constexpr uint8_t kNaN = 0xFF, kMax = 0xFE, kMin = 0x00;
    if (std::isnan(value)) return kNaN;
    const double magnitude = std::fabs(value);
    if (std::isinf(magnitude)) return mode.saturate ? kMax : kNaN;
    if (magnitude == 0) return mode.saturate ? kMin : kNaN;  // below the smallest value, 2^-127
    int exponent = 0;
    const double fraction =
        std::frexp(magnitude, &exponent);  // magnitude = fraction * 2^exponent, fraction in [0.5, 1)
    int power = exponent - 1;              // magnitude = (2 * fraction) * 2^power
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
uint8_t wrapInteger(uint64_t value, int bits, bool isSigned) {
    const uint64_t mask = (uint64_t{1} << bits) - 1u;
    uint64_t low = value & mask;
    if (isSigned && (low >> (bits - 1)) != 0) low |= ~mask;
    return static_cast<uint8_t>(low);
}

}  // namespace

bool isLowBitType(DataType type) noexcept {
    switch (type) {
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
        case DataType::kINT4:
        case DataType::kUINT4:
        case DataType::kINT2:
        case DataType::kUINT2:
        case DataType::kFP4E2M1:
            return true;
        case DataType::kFLOAT:
        case DataType::kHALF:
        case DataType::kBF16:
        case DataType::kDOUBLE:
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT16:
        case DataType::kUINT16:
        case DataType::kINT32:
        case DataType::kUINT32:
        case DataType::kINT64:
        case DataType::kUINT64:
        case DataType::kBOOL:
        case DataType::kSTRING:
            return false;
    }
    return false;
}

bool isLowBitIntegerType(DataType type) noexcept {
    return type == DataType::kINT4 || type == DataType::kUINT4 || type == DataType::kINT2 || type == DataType::kUINT2;
}

IntegerRange lowBitIntegerRange(DataType type) noexcept {
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

double lowBitToDouble(DataType type, uint8_t stored) noexcept {
    if (const MiniFloat* f = miniFloatOf(type)) return decodeMiniFloat(*f, stored);
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
            return std::numeric_limits<double>::quiet_NaN();
    }
}

uint8_t lowBitFromInteger(DataType type, int64_t value, LowBitCastMode mode) noexcept {
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
            return lowBitFromDouble(type, static_cast<double>(value), mode);
    }
}

uint8_t lowBitFromDouble(DataType type, double value, LowBitCastMode mode) noexcept {
    if (const MiniFloat* f = miniFloatOf(type)) return encodeMiniFloat(*f, value, mode.saturate);
    if (type == DataType::kFP8E8M0) return encodeE8M0(value, mode);
    if (!isLowBitIntegerType(type)) return 0;
    // [-2^63, 2^63) is where truncation fits int64; outside it (and NaN) the result is 0.
    constexpr double kLimit = 9223372036854775808.0;
    if (!(value >= -kLimit && value < kLimit)) return 0;
    return lowBitFromInteger(type, static_cast<int64_t>(std::trunc(value)), mode);
}

}  // namespace kiln
