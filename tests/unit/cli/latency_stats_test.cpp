#include "latency_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace kiln::cli {
namespace {

std::vector<double> randomLatencies(size_t n, std::mt19937& rng) {
    std::vector<double> values(n);
    for (double& v : values) v = std::exponential_distribution<double>(2.0)(rng) + 0.1;
    return values;
}

TEST(LatencyStats, MatchesTheDefinitions) {
    std::mt19937 rng(21);
    for (size_t n : {1u, 2u, 7u, 10u, 101u, 1000u}) {
        std::vector<double> samples = randomLatencies(n, rng);
        std::vector<double> percentiles = {0, 50, 90, 95, 99, 99.9, 100};
        LatencyStats stats = computeLatencyStats(samples, percentiles);
        double sum = 0, lo = samples[0], hi = samples[0];
        for (double v : samples) sum += v, lo = std::min(lo, v), hi = std::max(hi, v);
        EXPECT_DOUBLE_EQ(stats.minMs, lo);
        EXPECT_DOUBLE_EQ(stats.maxMs, hi);
        EXPECT_NEAR(stats.meanMs, sum / static_cast<double>(n), 1e-12);
        // Half the samples lie at or below the median and half at or above it.
        size_t below = 0, above = 0;
        for (double v : samples) below += v <= stats.medianMs, above += v >= stats.medianMs;
        EXPECT_GE(below * 2, n);
        EXPECT_GE(above * 2, n);
        ASSERT_EQ(stats.percentilesMs.size(), percentiles.size());
        for (const auto& [p, value] : stats.percentilesMs) {
            // Nearest rank: a sample, with at least p% of the samples at or below it, and fewer
            // than p% strictly below it.
            EXPECT_NE(std::find(samples.begin(), samples.end(), value), samples.end());
            size_t atOrBelow = 0, strictlyBelow = 0;
            for (double v : samples) atOrBelow += v <= value, strictlyBelow += v < value;
            EXPECT_GE(static_cast<double>(atOrBelow), p / 100.0 * static_cast<double>(n) - 1e-9) << "p" << p;
            if (p > 0) {
                EXPECT_LT(static_cast<double>(strictlyBelow), p / 100.0 * static_cast<double>(n)) << "p" << p;
            }
        }
        EXPECT_DOUBLE_EQ(stats.percentilesMs.front().second, lo);
        EXPECT_DOUBLE_EQ(stats.percentilesMs.back().second, hi);
    }
}

TEST(LatencyStats, EvenCountMedianAveragesTheMiddlePair) {
    LatencyStats stats = computeLatencyStats({4.0, 1.0, 3.0, 2.0}, {});
    EXPECT_DOUBLE_EQ(stats.medianMs, 2.5);
}

TEST(LatencyStats, FormatListsEveryPercentile) {
    LatencyStats stats = computeLatencyStats({1.0, 2.0, 3.0}, {90, 99.5});
    std::string text = formatLatencyStats(stats);
    EXPECT_NE(text.find("min = 1 ms"), std::string::npos) << text;
    EXPECT_NE(text.find("median = 2 ms"), std::string::npos) << text;
    EXPECT_NE(text.find("percentile(90%) = 3 ms"), std::string::npos) << text;
    EXPECT_NE(text.find("percentile(99.5%)"), std::string::npos) << text;
}

}  // namespace
}  // namespace kiln::cli
