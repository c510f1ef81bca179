// The 16-bit outputs' GELU (fused_activation.h's geluForHalfPrecision, and geluOfFloat16Product, its form
// without the cap) against the exact GELU in double, on the host (the formula; the device build swaps in
// the ex2.approx and min.NaN instructions, which the CUDA epilogue tests check against the double
// reference): the stated bounds over [-12, 12], and what they give far outside that range, at infinities
// and for NaN.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "backends/cuda/kernels/fused_activation.h"
#include "common/half.h"

namespace kiln::cudatest {
namespace {

double exactGelu(double x) {
    return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
}

/// The spacing of float16 values at |v| (subnormals below 2^-14).
double float16Ulp(double v) {
    const double magnitude = std::fabs(v);
    if (magnitude < std::ldexp(1.0, -14)) return std::ldexp(1.0, -24);
    int exponent = 0;
    std::frexp(magnitude, &exponent);  // magnitude = m * 2^exponent, m in [0.5, 1)
    return std::ldexp(1.0, exponent - 1 - 10);
}

/// The worst error of `gelu` over [-12, 12] in float16 ulps of the exact result, before its rounding.
template <class Gelu>
double worstUlpsNearZero(Gelu gelu) {
    std::mt19937 rng(20261203);
    std::uniform_real_distribution<float> draw(-12.f, 12.f);
    double worstUlps = 0;
    for (int i = 0; i < 2000000; ++i) {
        const float x = i < 24001 ? -12.f + 0.001f * static_cast<float>(i) : draw(rng);
        const double exact = exactGelu(x);
        const double error = std::fabs(static_cast<double>(gelu(x)) - exact);
        worstUlps = std::max(worstUlps, error / float16Ulp(exact));
    }
    return worstUlps;
}

TEST(GeluForHalfPrecisionTest, StaysWithinItsBoundsOfTheExactGelu) {
    // Before the result's rounding to float16: within 0.2 of its unit in the last place, down to the
    // subnormal results of the negative tail.
    const double capped = worstUlpsNearZero(cuda::geluForHalfPrecision);
    const double uncapped = worstUlpsNearZero(cuda::geluOfFloat16Product);
    std::printf("worst %.4f float16 ulp (capped), %.4f (uncapped)\n", capped, uncapped);
    EXPECT_LT(capped, 0.2);
    EXPECT_LT(uncapped, 0.2);
}

TEST(GeluForHalfPrecisionTest, WithoutTheCapRoundsAsWithItForEveryFiniteFloat) {
    // Floats from the cap (6.4) up to the largest, by bit pattern in steps of 997 (1.05 M of them, every
    // binade's), both signs, and the largest: rounded to float16, the uncapped form's result is the capped
    // one's (for a positive x a float16 too large gives inf in both).
    const uint32_t first = floatBits(6.4f), last = floatBits(3.4028235e38f);
    int64_t checked = 0, differing = 0;
    auto check = [&](float a) {
        for (float x : {a, -a}) {
            ++checked;
            if (floatToHalfBits(cuda::geluOfFloat16Product(x)) != floatToHalfBits(cuda::geluForHalfPrecision(x)))
                ++differing;
        }
    };
    for (uint32_t bits = first; bits < last; bits += 997) check(bitsToFloat(bits));
    check(bitsToFloat(last));
    EXPECT_GT(checked, 2000000);
    EXPECT_EQ(differing, 0);
}

TEST(GeluForHalfPrecisionTest, KeepsTheSignTheLimitsAndNaN) {
    EXPECT_EQ(cuda::geluForHalfPrecision(0.f), 0.f);
    EXPECT_NEAR(cuda::geluForHalfPrecision(8.f), 8.f, 1e-6);
    // Half the smallest float16 subnormal: what is below it rounds to (-)0 in float16.
    const float halfSmallestSubnormal = std::ldexp(1.f, -25);
    EXPECT_LE(std::fabs(cuda::geluForHalfPrecision(-8.f)), halfSmallestSubnormal);
    EXPECT_LT(cuda::geluForHalfPrecision(-1.f), 0.f);
    EXPECT_NEAR(cuda::geluForHalfPrecision(1.f), exactGelu(1.0), 0.05 * float16Ulp(exactGelu(1.0)));
    // Far past the fit's range: x itself above, nothing a float16 can hold below (the cap keeps the tail
    // term at 6.4 Phi(-6.4) = 5e-10).
    for (float x : {9.f, 100.f, 65504.f, 1e30f}) {
        EXPECT_EQ(cuda::geluForHalfPrecision(x), x);
        EXPECT_LE(std::fabs(cuda::geluForHalfPrecision(-x)), halfSmallestSubnormal);
    }
    EXPECT_EQ(cuda::geluForHalfPrecision(INFINITY), INFINITY);
    EXPECT_LE(std::fabs(cuda::geluForHalfPrecision(-INFINITY)), halfSmallestSubnormal);
    EXPECT_TRUE(std::isnan(cuda::geluForHalfPrecision(NAN)));
    // The uncapped form: NaN stays NaN, and an infinity (a float16 product's accumulator only when an
    // input is infinite) gives NaN, as its comment says.
    EXPECT_TRUE(std::isnan(cuda::geluOfFloat16Product(NAN)));
    EXPECT_TRUE(std::isnan(cuda::geluOfFloat16Product(INFINITY)));
    EXPECT_TRUE(std::isnan(cuda::geluOfFloat16Product(-INFINITY)));
}

}  // namespace
}  // namespace kiln::cudatest
