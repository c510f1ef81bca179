#pragma once
// Reference semantics of the low-bit floating formats for tests, written from ONNX's float8 and
// float4 documents and Cast's tables, independently of common/low_precision: each code's value by
// the textbook sign / exponent / mantissa formula, and rounding as a brute-force search for the
// nearest code (ties to the even code).

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kiln/types.h"

namespace kiln::test {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// A sign / exponent / mantissa format as the ONNX documents describe it.
struct Format {
    DataType type;
    int exponentBits;
    int mantissaBits;
    int bias;
    bool ieeeSpecials;  // e5m2: top exponent = infinities and NaNs
    bool allOnesNaN;    // e4m3fn: S.1111.111 is NaN
    bool fnuz;          // 0x80 is the only NaN, no -0
    double maxFinite;   // from the documents' tables
    double minSubnormal;
};

inline const std::vector<Format>& formats() {
    static const std::vector<Format> all = {
        {DataType::kFP8E4M3FN, 4, 3, 7, false, true, false, 448.0, 0.001953125},             // 2^-9
        {DataType::kFP8E4M3FNUZ, 4, 3, 8, false, false, true, 240.0, 0.0009765625},          // 2^-10
        {DataType::kFP8E5M2, 5, 2, 15, true, false, false, 57344.0, 1.52587890625e-05},      // 2^-16
        {DataType::kFP8E5M2FNUZ, 5, 2, 16, false, false, true, 57344.0, 7.62939453125e-06},  // 2^-17
        {DataType::kFP4E2M1, 2, 1, 1, false, false, false, 6.0, 0.5},
    };
    return all;
}

/// The reference value of `code` (NaN for NaN codes), by the textbook formula.
inline double referenceValue(const Format& f, int code) {
    const int signBit = 1 << (f.exponentBits + f.mantissaBits);
    const int exponent = (code >> f.mantissaBits) & ((1 << f.exponentBits) - 1);
    const int mantissa = code & ((1 << f.mantissaBits) - 1);
    const bool negative = (code & signBit) != 0;
    if (f.fnuz && code == signBit) return kNaN;
    if (f.allOnesNaN && exponent == (1 << f.exponentBits) - 1 && mantissa == (1 << f.mantissaBits) - 1) return kNaN;
    if (f.ieeeSpecials && exponent == (1 << f.exponentBits) - 1) return mantissa ? kNaN : (negative ? -kInf : kInf);
    const double fraction = mantissa / std::pow(2.0, f.mantissaBits);
    const double magnitude =
        exponent == 0 ? fraction * std::pow(2.0, 1 - f.bias) : (1.0 + fraction) * std::pow(2.0, exponent - f.bias);
    return negative ? -magnitude : magnitude;
}

/// Brute-force round to nearest even: the finite non-negative code nearest to `magnitude`, ties to
/// the even code; -1 when the nearest is past the largest finite value (the virtual next value
/// max + ulp(max) counts as a candidate with the code after max's).
inline int referenceNearestCode(const Format& f, double magnitude) {
    const int signBit = 1 << (f.exponentBits + f.mantissaBits);
    int best = -1, maxCode = 0;
    double bestDistance = kInf;
    for (int code = 0; code < signBit; ++code) {
        const double v = referenceValue(f, code);
        if (!std::isfinite(v)) continue;
        maxCode = code;  // codes grow with their value: the last finite one is the largest
        const double d = std::fabs(v - magnitude);
        if (d < bestDistance || (d == bestDistance && code % 2 == 0)) {
            bestDistance = d;
            best = code;
        }
    }
    const double ulpAtMax = referenceValue(f, maxCode) - referenceValue(f, maxCode - 1);
    const double beyond = std::fabs(referenceValue(f, maxCode) + ulpAtMax - magnitude);
    if (beyond < bestDistance || (beyond == bestDistance && (maxCode + 1) % 2 == 0)) return -1;
    return best;
}

/// The code the ONNX Cast tables give for `x` with `saturate` (NaN codes compared as "is NaN").
inline double expectedCastValue(const Format& f, double x, bool saturate) {
    if (std::isnan(x)) return f.type == DataType::kFP4E2M1 ? 0.0 : kNaN;
    const double magnitude = std::fabs(x);
    const int code = std::isinf(x) ? -1 : referenceNearestCode(f, magnitude);
    double value;
    if (code < 0) {
        if (saturate || f.type == DataType::kFP4E2M1)
            value = f.maxFinite;
        else if (f.ieeeSpecials)
            value = kInf;
        else
            return kNaN;
    } else {
        value = referenceValue(f, code);
    }
    return std::signbit(x) ? -value : value;
}

/// The stored code Cast should produce for `x` (Kiln's choices where ONNX leaves one: the NaN of
/// e4m3fn and e5m2 is S.1111111, keeping x's sign; float4e2m1's NaN is +0).
inline uint8_t expectedCastCode(const Format& f, double x, bool saturate) {
    const int signBit = 1 << (f.exponentBits + f.mantissaBits);
    const double value = expectedCastValue(f, x, saturate);
    if (std::isnan(value))
        return static_cast<uint8_t>(f.fnuz ? signBit : (std::signbit(x) ? signBit : 0) | (signBit - 1));
    const double magnitude = std::fabs(value);
    int code = 0;
    if (std::isinf(magnitude)) {
        code = ((1 << f.exponentBits) - 1) << f.mantissaBits;
    } else {
        while (code < signBit && referenceValue(f, code) != magnitude) ++code;
    }
    const bool negative = std::signbit(value) && !(f.fnuz && magnitude == 0);
    return static_cast<uint8_t>(code | (negative ? signBit : 0));
}

}  // namespace kiln::test
