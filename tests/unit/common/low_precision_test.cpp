// common/low_precision: every code of every low-bit format decoded against a reference written
// from the format descriptions (ONNX's float8 / float4 docs, the OCP MX spec for e8m0), and
// encoding checked against a brute-force nearest-value search over all codes (ties to the even
// code) on random values, exact ties, subnormals, overflow, NaN and signed zeros.

#include "common/low_precision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "low_precision_reference.h"

namespace kiln {
namespace {

using test::expectedCastValue;
using test::Format;
using test::formats;
using test::kInf;
using test::kNaN;
using test::referenceNearestCode;
using test::referenceValue;

int codeCount(const Format& f) {
    return 1 << (1 + f.exponentBits + f.mantissaBits);
}

TEST(LowPrecision, EveryFloatCodeDecodesToItsReferenceValue) {
    for (const Format& f : formats()) {
        int nanCodes = 0;
        double largest = 0, smallest = kInf;
        for (int code = 0; code < codeCount(f); ++code) {
            const double expected = referenceValue(f, code);
            const double actual = lowBitToDouble(f.type, static_cast<uint8_t>(code));
            if (std::isnan(expected)) {
                EXPECT_TRUE(std::isnan(actual)) << dataTypeName(f.type) << " code " << code;
                ++nanCodes;
                continue;
            }
            EXPECT_EQ(actual, expected) << dataTypeName(f.type) << " code " << code;
            EXPECT_EQ(std::signbit(actual), std::signbit(expected)) << dataTypeName(f.type) << " code " << code;
            if (std::isfinite(actual)) largest = std::max(largest, actual);
            if (actual > 0) smallest = std::min(smallest, actual);
        }
        EXPECT_EQ(largest, f.maxFinite) << dataTypeName(f.type);
        EXPECT_EQ(smallest, f.minSubnormal) << dataTypeName(f.type);
        const int expectedNaNs = f.fnuz ? 1 : f.allOnesNaN ? 2 : f.ieeeSpecials ? 6 : 0;
        EXPECT_EQ(nanCodes, expectedNaNs) << dataTypeName(f.type);
    }
}

TEST(LowPrecision, EveryFloatCodeRoundTrips) {
    for (const Format& f : formats()) {
        for (int code = 0; code < codeCount(f); ++code) {
            const double value = lowBitToDouble(f.type, static_cast<uint8_t>(code));
            for (bool saturate : {true, false}) {
                const uint8_t again = lowBitFromDouble(f.type, value, {saturate});
                if (std::isnan(value)) {
                    EXPECT_TRUE(std::isnan(lowBitToDouble(f.type, again))) << dataTypeName(f.type) << " code " << code;
                } else if (std::isinf(value) && saturate) {
                    EXPECT_EQ(lowBitToDouble(f.type, again), std::copysign(f.maxFinite, value)) << dataTypeName(f.type);
                } else {
                    EXPECT_EQ(again, code) << dataTypeName(f.type) << " value " << value;
                }
            }
        }
    }
}

void expectConverts(const Format& f, double x, bool saturate) {
    const double expected = expectedCastValue(f, x, saturate);
    const uint8_t code = lowBitFromDouble(f.type, x, {saturate});
    const double actual = lowBitToDouble(f.type, code);
    if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(actual)) << dataTypeName(f.type) << " x=" << x << " saturate=" << saturate;
        return;
    }
    EXPECT_EQ(actual, expected) << dataTypeName(f.type) << " x=" << x << " saturate=" << saturate;
    // Signed zeros: kept, except in the fnuz formats, which have no -0.
    const bool expectNegative = std::signbit(expected) && !(f.fnuz && expected == 0);
    EXPECT_EQ(std::signbit(actual), expectNegative) << dataTypeName(f.type) << " x=" << x;
}

TEST(LowPrecision, RandomValuesRoundToNearestEven) {
    std::mt19937_64 rng(7);
    for (const Format& f : formats()) {
        // Magnitudes from well below the smallest subnormal to well past the largest value.
        std::uniform_real_distribution<double> exponent(std::log2(f.minSubnormal) - 3, std::log2(f.maxFinite) + 3);
        std::uniform_int_distribution<int> sign(0, 1);
        for (int i = 0; i < 4000; ++i) {
            const double x = (sign(rng) ? -1.0 : 1.0) * std::exp2(exponent(rng));
            expectConverts(f, x, true);
            expectConverts(f, x, false);
        }
    }
}

TEST(LowPrecision, ExactTiesGoToTheEvenCode) {
    for (const Format& f : formats()) {
        const int signBit = 1 << (f.exponentBits + f.mantissaBits);
        for (int code = 0; code + 1 < signBit; ++code) {
            const double lo = referenceValue(f, code), hi = referenceValue(f, code + 1);
            if (!std::isfinite(lo) || !std::isfinite(hi)) continue;
            const double middle = (lo + hi) / 2;
            const int even = code % 2 == 0 ? code : code + 1;
            EXPECT_EQ(lowBitFromDouble(f.type, middle), even) << dataTypeName(f.type) << " tie " << middle;
            EXPECT_EQ(lowBitToDouble(f.type, lowBitFromDouble(f.type, -middle)), -referenceValue(f, even))
                << dataTypeName(f.type) << " tie " << -middle;
            // Just off the tie, the nearer neighbour wins.
            EXPECT_EQ(lowBitFromDouble(f.type, std::nextafter(middle, 0.0)), code) << dataTypeName(f.type);
            EXPECT_EQ(lowBitFromDouble(f.type, std::nextafter(middle, kInf)), code + 1) << dataTypeName(f.type);
        }
    }
}

TEST(LowPrecision, SpecialValuesFollowOnnxCastTables) {
    struct Row {
        DataType type;
        uint8_t nan, inf, negInf, maxPos, maxNeg, zero, negZero;
    };
    // NaN, +/-Inf with saturate=0; saturate=1 gives +/-max for infinities; -0 as stored.
    for (const Row& r : {Row{DataType::kFP8E4M3FN, 0x7F, 0x7F, 0xFF, 0x7E, 0xFE, 0x00, 0x80},
                         Row{DataType::kFP8E4M3FNUZ, 0x80, 0x80, 0x80, 0x7F, 0xFF, 0x00, 0x00},
                         Row{DataType::kFP8E5M2, 0x7F, 0x7C, 0xFC, 0x7B, 0xFB, 0x00, 0x80},
                         Row{DataType::kFP8E5M2FNUZ, 0x80, 0x80, 0x80, 0x7F, 0xFF, 0x00, 0x00}}) {
        const char* name = dataTypeName(r.type);
        EXPECT_EQ(lowBitFromDouble(r.type, kNaN, {true}), r.nan) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, kNaN, {false}), r.nan) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, kInf, {true}), r.maxPos) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, -kInf, {true}), r.maxNeg) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, kInf, {false}), r.inf) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, -kInf, {false}), r.negInf) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, 1e9, {true}), r.maxPos) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, -1e9, {true}), r.maxNeg) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, 0.0), r.zero) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, -0.0), r.negZero) << name;
        EXPECT_EQ(lowBitFromDouble(r.type, -1e-30), r.negZero) << name;  // rounds to -0 (or +0 without -0)
    }
    // e4m3fn: 464 is halfway between 448 and the (missing) 480 and goes to the even 448;
    // anything above overflows (NaN without saturation).
    EXPECT_EQ(lowBitFromDouble(DataType::kFP8E4M3FN, 464.0, {false}), 0x7E);
    EXPECT_EQ(lowBitFromDouble(DataType::kFP8E4M3FN, 464.5, {false}), 0x7F);
    EXPECT_EQ(lowBitFromDouble(DataType::kFP8E4M3FN, 464.5, {true}), 0x7E);
    // e5m2: 61440 is halfway between 57344 and 65536 (the infinity code, even): it overflows.
    EXPECT_EQ(lowBitFromDouble(DataType::kFP8E5M2, 61440.0, {false}), 0x7C);
    EXPECT_EQ(lowBitFromDouble(DataType::kFP8E5M2, 61439.0, {false}), 0x7B);
    EXPECT_EQ(lowBitFromDouble(DataType::kFP8E5M2, 61440.0, {true}), 0x7B);
    // float4e2m1: saturates always; NaN has no code and gives +0.
    EXPECT_EQ(lowBitFromDouble(DataType::kFP4E2M1, 7.0, {false}), 0x7);
    EXPECT_EQ(lowBitFromDouble(DataType::kFP4E2M1, -kInf, {false}), 0xF);
    EXPECT_EQ(lowBitFromDouble(DataType::kFP4E2M1, kNaN), 0x0);
}

TEST(LowPrecision, Float4ValuesAreTheDocumentedOnes) {
    const double values[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    for (int code = 0; code < 16; ++code) {
        const double expected = (code & 8) ? -values[code & 7] : values[code & 7];
        EXPECT_EQ(lowBitToDouble(DataType::kFP4E2M1, static_cast<uint8_t>(code)), expected) << code;
    }
    // The values of ONNX's float4 Cast test (ml_dtypes' rounding).
    const std::vector<std::pair<double, double>> cases = {{0.48, 0.5}, {0.25, 0}, {1.05, 1}, {-3.5, -4}, {-8, -6},
                                                          {9, 6},      {1e6, 6},  {1e-7, 0}, {-4, -4},   {0.01, 0},
                                                          {0.75, 1},   {2.5, 2},  {5, 4},    {1.25, 1},  {1.75, 2}};
    for (const auto& [x, expected] : cases)
        EXPECT_EQ(lowBitToDouble(DataType::kFP4E2M1, lowBitFromDouble(DataType::kFP4E2M1, x)), expected) << x;
}

TEST(LowPrecision, E8M0IsAPowerOfTwoRoundedAsRoundModeSays) {
    const DataType t = DataType::kFP8E8M0;
    for (int code = 0; code < 255; ++code)
        EXPECT_EQ(lowBitToDouble(t, static_cast<uint8_t>(code)), std::pow(2.0, code - 127)) << code;
    EXPECT_TRUE(std::isnan(lowBitToDouble(t, 0xFF)));

    const LowBitCastMode up{true, E8M0Rounding::kUp}, down{true, E8M0Rounding::kDown},
        nearest{true, E8M0Rounding::kNearest};
    struct Case {
        double x;
        uint8_t up, down, nearest;
    };
    for (const Case& c : {Case{1.0, 0x7F, 0x7F, 0x7F}, Case{1.5, 0x80, 0x7F, 0x80}, Case{1.25, 0x80, 0x7F, 0x7F},
                          Case{1.4999, 0x80, 0x7F, 0x7F}, Case{0.75, 0x7F, 0x7E, 0x7F}, Case{0.124, 0x7C, 0x7B, 0x7C},
                          Case{3.0, 0x81, 0x80, 0x81}, Case{0x1p-127, 0x00, 0x00, 0x00},
                          Case{0x1p127, 0xFE, 0xFE, 0xFE}, Case{-4.0, 0x81, 0x81, 0x81}}) {
        EXPECT_EQ(lowBitFromDouble(t, c.x, up), c.up) << c.x;
        EXPECT_EQ(lowBitFromDouble(t, c.x, down), c.down) << c.x;
        EXPECT_EQ(lowBitFromDouble(t, c.x, nearest), c.nearest) << c.x;
    }
    // Random values against 2^floor / 2^ceil of log2 computed independently.
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> exponent(-120, 120);
    for (int i = 0; i < 2000; ++i) {
        const double x = std::exp2(exponent(rng));
        const double lower = std::exp2(std::floor(std::log2(x)));
        const double expectUp = x == lower ? lower : 2 * lower;
        const double expectNearest = x >= 1.5 * lower ? 2 * lower : lower;
        EXPECT_EQ(lowBitToDouble(t, lowBitFromDouble(t, x, up)), expectUp) << x;
        EXPECT_EQ(lowBitToDouble(t, lowBitFromDouble(t, x, down)), lower) << x;
        EXPECT_EQ(lowBitToDouble(t, lowBitFromDouble(t, x, nearest)), expectNearest) << x;
    }
    // Out of range: saturate clamps to 2^127 / 2^-127; without it, NaN (ONNX's table).
    const LowBitCastMode upRaw{false, E8M0Rounding::kUp}, nearestRaw{false, E8M0Rounding::kNearest};
    EXPECT_EQ(lowBitFromDouble(t, 1.5 * 0x1p127, up), 0xFE);
    EXPECT_EQ(lowBitFromDouble(t, 1.5 * 0x1p127, upRaw), 0xFF);
    EXPECT_EQ(lowBitFromDouble(t, kInf, up), 0xFE);
    EXPECT_EQ(lowBitFromDouble(t, kInf, nearestRaw), 0xFF);
    EXPECT_EQ(lowBitFromDouble(t, 0.0, up), 0x00);
    EXPECT_EQ(lowBitFromDouble(t, 0.0, nearestRaw), 0xFF);
    EXPECT_EQ(lowBitFromDouble(t, 0x1p-130, up), 0x00);
    EXPECT_EQ(lowBitFromDouble(t, 0x1p-130, nearestRaw), 0xFF);
    EXPECT_EQ(lowBitFromDouble(t, kNaN, up), 0xFF);
}

/// Reference wrap of an integer into `bits` bits, two's complement when signed.
int64_t referenceWrap(int64_t v, int bits, bool isSigned) {
    const int64_t modulus = int64_t{1} << bits;
    int64_t r = ((v % modulus) + modulus) % modulus;
    if (isSigned && r >= modulus / 2) r -= modulus;
    return r;
}

TEST(LowPrecision, IntegersWrapAndStoreOneElementPerByte) {
    struct IntFormat {
        DataType type;
        int bits;
        bool isSigned;
    };
    for (const IntFormat& f : {IntFormat{DataType::kINT4, 4, true}, IntFormat{DataType::kUINT4, 4, false},
                               IntFormat{DataType::kINT2, 2, true}, IntFormat{DataType::kUINT2, 2, false}}) {
        const IntegerRange range = lowBitIntegerRange(f.type);
        EXPECT_EQ(range.lowest, f.isSigned ? -(int64_t{1} << (f.bits - 1)) : 0) << dataTypeName(f.type);
        EXPECT_EQ(range.highest, f.isSigned ? (int64_t{1} << (f.bits - 1)) - 1 : (int64_t{1} << f.bits) - 1);
        for (int64_t v = -300; v <= 300; ++v) {
            const int64_t expected = referenceWrap(v, f.bits, f.isSigned);
            const uint8_t stored = lowBitFromInteger(f.type, v);
            EXPECT_EQ(lowBitToDouble(f.type, stored), static_cast<double>(expected))
                << dataTypeName(f.type) << " " << v;
            // Kiln's layout: int4 / int2 sign-extended into an int8, the unsigned in the low bits.
            EXPECT_EQ(f.isSigned ? static_cast<int64_t>(static_cast<int8_t>(stored)) : static_cast<int64_t>(stored),
                      expected);
            // From double: truncation toward zero first.
            const double x = static_cast<double>(v) + (v < 0 ? -0.75 : 0.75);
            EXPECT_EQ(lowBitToDouble(f.type, lowBitFromDouble(f.type, x)), static_cast<double>(expected)) << x;
        }
        EXPECT_EQ(lowBitFromInteger(f.type, std::numeric_limits<int64_t>::min()), 0);
        for (double special : {kNaN, kInf, -kInf, 1e300})
            EXPECT_EQ(lowBitFromDouble(f.type, special), 0) << dataTypeName(f.type) << " " << special;
    }
}

TEST(LowPrecision, OnlyTheLowBitTypesAreLowBit) {
    for (DataType t :
         {DataType::kFP8E4M3FN, DataType::kFP8E4M3FNUZ, DataType::kFP8E5M2, DataType::kFP8E5M2FNUZ, DataType::kFP8E8M0,
          DataType::kINT4, DataType::kUINT4, DataType::kINT2, DataType::kUINT2, DataType::kFP4E2M1})
        EXPECT_TRUE(isLowBitType(t)) << dataTypeName(t);
    for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT8,
                       DataType::kUINT8, DataType::kINT16, DataType::kUINT16, DataType::kINT32, DataType::kUINT32,
                       DataType::kINT64, DataType::kUINT64, DataType::kBOOL}) {
        EXPECT_FALSE(isLowBitType(t)) << dataTypeName(t);
        EXPECT_FALSE(isLowBitIntegerType(t)) << dataTypeName(t);
    }
    EXPECT_TRUE(isLowBitIntegerType(DataType::kUINT2));
    EXPECT_FALSE(isLowBitIntegerType(DataType::kFP4E2M1));
}

}  // namespace
}  // namespace kiln
