// The 16-bit outputs' GELU (fused_activation.h's geluForHalfPrecision) against the exact GELU in double,
// on the host (the formula; the device build swaps in the __fdividef / __expf intrinsics, which the CUDA
// epilogue tests check against the double reference): its stated bounds, over [-12, 12].

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/cuda/kernels/fused_activation.h"

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

TEST(GeluForHalfPrecisionTest, StaysWithinItsBoundsOfTheExactGelu) {
    std::mt19937 rng(20261203);
    std::uniform_real_distribution<float> draw(-12.f, 12.f);
    double worstAbsolute = 0, worstUlps = 0, worstUlpsAboveMilli = 0;
    for (int i = 0; i < 2000000; ++i) {
        const float x = i < 24001 ? -12.f + 0.001f * static_cast<float>(i) : draw(rng);
        const double exact = exactGelu(x);
        const double error = std::fabs(static_cast<double>(cuda::geluForHalfPrecision(x)) - exact);
        worstAbsolute = std::max(worstAbsolute, error);
        if (std::fabs(exact) >= 1e-6) worstUlps = std::max(worstUlps, error / float16Ulp(exact));
        if (std::fabs(exact) >= 1e-3) worstUlpsAboveMilli = std::max(worstUlpsAboveMilli, error / float16Ulp(exact));
    }
    EXPECT_LE(worstAbsolute, 6.5e-7);
    EXPECT_LT(worstUlps, 1.0);
    EXPECT_LT(worstUlpsAboveMilli, 0.25);
}

TEST(GeluForHalfPrecisionTest, KeepsTheSignAndTheLimits) {
    EXPECT_EQ(cuda::geluForHalfPrecision(0.f), 0.f);
    EXPECT_NEAR(cuda::geluForHalfPrecision(8.f), 8.f, 1e-6);
    EXPECT_NEAR(cuda::geluForHalfPrecision(-8.f), 0.f, 1e-12);
    EXPECT_LT(cuda::geluForHalfPrecision(-1.f), 0.f);
    EXPECT_NEAR(cuda::geluForHalfPrecision(1.f), exactGelu(1.0), 2e-7);
}

}  // namespace
}  // namespace kiln::cudatest
