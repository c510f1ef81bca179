#pragma once
// IEEE binary16 and bfloat16 storage types with conversions to and from float. Arithmetic on the
// CPU goes through float; these types only say how the bits are stored.

#include <cstdint>
#include <cstring>

namespace kiln {

inline uint32_t floatBits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline float bitsToFloat(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

/// float -> binary16 with round-to-nearest-even, NaN kept NaN, overflow to infinity.
inline uint16_t floatToHalfBits(float value) {
    uint32_t x = floatBits(value);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // Inf or NaN
        return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    }
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: Inf
    if (absx < 0x38800000u) {  // result is subnormal or zero
        // Shift the float (with implicit bit) into half's subnormal position, rounding to nearest even.
        if (absx < 0x33000000u) return static_cast<uint16_t>(sign);  // below half of smallest subnormal
        uint32_t exponent = absx >> 23;
        uint32_t mantissa = (absx & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - exponent;  // 14 + (127 - 15) - exponent ... yields 14..24
        uint32_t halfMant = mantissa >> shift;
        uint32_t remainder = mantissa & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (remainder > halfway || (remainder == halfway && (halfMant & 1u))) ++halfMant;
        return static_cast<uint16_t>(sign | halfMant);
    }
    uint32_t rounded = absx + 0xfffu + ((absx >> 13) & 1u);  // round to nearest even at bit 13
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

inline float halfBitsToFloat(uint16_t h) {
    uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0) {
        if (mantissa == 0) return bitsToFloat(sign);
        // subnormal: value = mantissa * 2^-24
        float f = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exponent == 31) return bitsToFloat(sign | 0x7f800000u | (mantissa << 13));
    return bitsToFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

/// float -> bfloat16 with round-to-nearest-even; NaN stays a quiet NaN.
inline uint16_t floatToBf16Bits(float value) {
    uint32_t x = floatBits(value);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return static_cast<uint16_t>(x >> 16);
}
inline float bf16BitsToFloat(uint16_t b) { return bitsToFloat(static_cast<uint32_t>(b) << 16); }

struct Half {
    uint16_t bits{0};
    Half() = default;
    explicit Half(float f) : bits(floatToHalfBits(f)) {}
    operator float() const { return halfBitsToFloat(bits); }  // NOLINT: numeric storage type
};

struct BFloat16 {
    uint16_t bits{0};
    BFloat16() = default;
    explicit BFloat16(float f) : bits(floatToBf16Bits(f)) {}
    operator float() const { return bf16BitsToFloat(bits); }  // NOLINT: numeric storage type
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

}  // namespace kiln
