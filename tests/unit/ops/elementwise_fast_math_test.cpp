// The vectorizable float exp / tanh / erf (elementwise_fast_math.h) against double-precision libm
// over dense sweeps of their ranges, and at special values.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "backends/cpu/kernels/elementwise_fast_math.h"

namespace kiln::cpu {
namespace {

/// Error of `got` in units of the last place of the correctly rounded float result.
double ulpError(float got, double exact) {
    const float rounded = static_cast<float>(exact);
    const float next = std::nextafter(std::fabs(rounded), std::numeric_limits<float>::infinity());
    const double ulp = static_cast<double>(next) - std::fabs(static_cast<double>(rounded));
    return std::fabs(static_cast<double>(got) - exact) / ulp;
}

template <typename Fast, typename Exact>
double maxUlpError(Fast fast, Exact exact, double lo, double hi, int steps) {
    double worst = 0;
    for (int i = 0; i <= steps; ++i) {
        const auto x = static_cast<float>(lo + (hi - lo) * i / steps);
        worst = std::max(worst, ulpError(fast(x), exact(static_cast<double>(x))));
    }
    return worst;
}

TEST(FastMath, ExpAccuracy) {
    auto exact = [](double x) { return std::exp(x); };
    // Normal results, and results down in the subnormal range (where ulps are absolute).
    EXPECT_LE(maxUlpError(expFloat, exact, -87.0, 88.7, 2000000), 2.0);
    EXPECT_LE(maxUlpError(expFloat, exact, -1e-3, 1e-3, 100000), 2.0);
    EXPECT_LE(maxUlpError(expFloat, exact, -103.0, -87.5, 100000), 2.0);
}

TEST(FastMath, ExpSpecialValues) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(expFloat(0.0f), 1.0f);
    EXPECT_EQ(expFloat(inf), inf);
    EXPECT_EQ(expFloat(89.0f), inf);
    EXPECT_EQ(expFloat(-inf), 0.0f);
    EXPECT_EQ(expFloat(-105.0f), 0.0f);
    EXPECT_TRUE(std::isnan(expFloat(std::numeric_limits<float>::quiet_NaN())));
    EXPECT_LT(expFloat(88.72f), inf);
}

TEST(FastMath, TanhAccuracy) {
    auto exact = [](double x) { return std::tanh(x); };
    EXPECT_LE(maxUlpError(tanhFloat, exact, -12.0, 12.0, 2000000), 2.0);
    EXPECT_LE(maxUlpError(tanhFloat, exact, -1e-4, 1e-4, 100000), 2.0);
    EXPECT_LE(maxUlpError(tanhFloat, exact, 0.5, 0.6, 100000), 2.0);  // around the switch of formula
}

TEST(FastMath, TanhSpecialValues) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(tanhFloat(inf), 1.0f);
    EXPECT_EQ(tanhFloat(-inf), -1.0f);
    EXPECT_EQ(tanhFloat(100.0f), 1.0f);
    EXPECT_TRUE(std::signbit(tanhFloat(-0.0f)));
    EXPECT_TRUE(std::isnan(tanhFloat(std::numeric_limits<float>::quiet_NaN())));
}

TEST(FastMath, ErfAccuracy) {
    auto exact = [](double x) { return std::erf(x); };
    EXPECT_LE(maxUlpError(erfFloat, exact, -6.0, 6.0, 2000000), 3.0);
    EXPECT_LE(maxUlpError(erfFloat, exact, -1e-4, 1e-4, 100000), 3.0);
    EXPECT_LE(maxUlpError(erfFloat, exact, 0.9, 1.1, 100000), 3.0);  // around the switch of formula
}

TEST(FastMath, ErfSpecialValues) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(erfFloat(inf), 1.0f);
    EXPECT_EQ(erfFloat(-inf), -1.0f);
    EXPECT_EQ(erfFloat(0.0f), 0.0f);
    EXPECT_TRUE(std::isnan(erfFloat(std::numeric_limits<float>::quiet_NaN())));
}

TEST(FastMath, SelectValue) {
    EXPECT_EQ(selectValue(true, 1.5f, -2.0f), 1.5f);
    EXPECT_EQ(selectValue(false, 1.5f, -2.0f), -2.0f);
    EXPECT_EQ(selectValue(true, 1.5, -2.0), 1.5);
    EXPECT_EQ(selectValue(false, 1.5, -2.0), -2.0);
    EXPECT_EQ(selectValue(false, 3, 4), 4);
    EXPECT_TRUE(std::isnan(selectValue(true, std::numeric_limits<float>::quiet_NaN(), 0.0f)));
}

}  // namespace
}  // namespace kiln::cpu
