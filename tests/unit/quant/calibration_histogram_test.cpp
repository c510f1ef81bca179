// The range algorithms against values computed here from the raw data: MinMax against max|x|,
// Percentile against the sorted data's order statistic, Entropy against distributions whose right
// threshold is known (a Gaussian bulk with rare huge outliers is clipped well below the outliers and
// above the bulk's tail; uniform data, where clipping only loses, keeps nearly all of its range).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "quant/calibration_histogram.h"

namespace kiln {
namespace {

std::vector<float> gaussian(size_t n, double sigma, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, static_cast<float>(sigma));
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

TEST(CalibrationHistogram, MinMaxIsTheLargestMagnitudeOverAllBatches) {
    AbsHistogram h;
    auto a = gaussian(1000, 1.0, 1), b = gaussian(1000, 3.0, 2);
    b[17] = -42.5f;
    h.add(a.data(), a.size());
    h.add(b.data(), b.size());
    EXPECT_EQ(minMaxAmax(h), 42.5);
    EXPECT_EQ(h.count(), 2000u);
}

TEST(CalibrationHistogram, GrowingTheRangeMergesBinsExactly) {
    // Batches of growing magnitude: the doubled range's bins equal those of one histogram made at once
    // over the final range (same edges), up to values sitting on an edge.
    auto small = gaussian(5000, 0.5, 3), large = gaussian(5000, 4.0, 4);
    AbsHistogram grown;
    grown.add(small.data(), small.size());
    const double first = grown.range();
    grown.add(large.data(), large.size());
    ASSERT_GT(grown.range(), first);
    EXPECT_DOUBLE_EQ(grown.range() / first, std::exp2(std::round(std::log2(grown.range() / first))));
    std::vector<uint64_t> expected(AbsHistogram::kBins, 0);
    for (const auto* batch : {&small, &large})
        for (float x : *batch)
            ++expected[std::min<size_t>(AbsHistogram::kBins - 1,
                                        static_cast<size_t>(std::fabs(static_cast<double>(x)) / grown.binWidth()))];
    uint64_t differing = 0, total = 0;
    for (size_t b = 0; b < expected.size(); ++b) {
        differing += static_cast<uint64_t>(std::llabs(static_cast<long long>(expected[b]) - static_cast<long long>(grown.bins()[b])));
        total += grown.bins()[b];
    }
    EXPECT_EQ(total + grown.zeroCount(), 10000u);
    EXPECT_LE(differing, 4u);
}

TEST(CalibrationHistogram, PercentileIsWithinOneBinOfTheSortedData) {
    auto data = gaussian(200000, 1.0, 5);
    AbsHistogram h;
    h.add(data.data(), data.size() / 2);
    h.add(data.data() + data.size() / 2, data.size() - data.size() / 2);
    std::vector<double> sorted;
    for (float x : data) sorted.push_back(std::fabs(static_cast<double>(x)));
    std::sort(sorted.begin(), sorted.end());
    for (double p : {50.0, 99.0, 99.9, 99.99, 100.0}) {
        const size_t k = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
        const double exact = sorted[std::max<size_t>(k, 1) - 1];
        EXPECT_NEAR(percentileAmax(h, p), exact, h.binWidth()) << "percentile " << p;
    }
    EXPECT_EQ(chooseAmax(h, CalibrationAlgoType::kPERCENTILE, 100.0), h.absMax());
}

TEST(CalibrationHistogram, EntropyClipsRareOutliersButKeepsTheBulk) {
    auto data = gaussian(1000000, 1.0, 6);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> outlier(40.0f, 50.0f);
    for (size_t i = 0; i < 20; ++i) data[i * 9973] = (i % 2 ? 1.0f : -1.0f) * outlier(rng);
    AbsHistogram h;
    h.add(data.data(), data.size());
    const double amax = entropyAmax(h);
    EXPECT_GT(h.absMax(), 40.0);
    // A Gaussian's |x| exceeds 3 once in 370 values and 6 once in 5e8: the threshold lies in between,
    // far below the outliers.
    EXPECT_GT(amax, 3.0);
    EXPECT_LT(amax, 12.0);
    EXPECT_EQ(chooseAmax(h, CalibrationAlgoType::kENTROPY, 0), amax);
    EXPECT_EQ(chooseAmax(h, CalibrationAlgoType::kENTROPY_2, 0), amax);
}

TEST(CalibrationHistogram, EntropyKeepsTheRangeOfUniformData) {
    std::mt19937 rng(8);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> data(200000);
    for (float& x : data) x = dist(rng);
    AbsHistogram h;
    h.add(data.data(), data.size());
    EXPECT_GT(entropyAmax(h), 0.9);
    EXPECT_LE(entropyAmax(h), h.absMax());
}

TEST(CalibrationHistogram, ZerosAndNonFiniteValuesGiveNoRange) {
    AbsHistogram h;
    std::vector<float> zeros(100, 0.0f);
    zeros[3] = std::nanf("");
    zeros[4] = INFINITY;
    h.add(zeros.data(), zeros.size());
    EXPECT_EQ(h.nonFiniteCount(), 2u);
    for (auto algorithm : {CalibrationAlgoType::kMINMAX, CalibrationAlgoType::kENTROPY_2, CalibrationAlgoType::kPERCENTILE})
        EXPECT_EQ(chooseAmax(h, algorithm, 99.99), 0.0);
    // Zeros are counted apart from the bins: the percentile counts them, the entropy search does not.
    std::vector<float> ones(100, 1.0f);
    h.add(ones.data(), ones.size());
    EXPECT_EQ(h.count(), 198u);
    EXPECT_EQ(h.zeroCount(), 98u);
    EXPECT_EQ(h.bins()[0], 0u);
    EXPECT_EQ(h.bins()[AbsHistogram::kBins - 1], 100u);
    EXPECT_EQ(minMaxAmax(h), 1.0);
    EXPECT_EQ(percentileAmax(h, 40.0), 0.0);
    EXPECT_EQ(percentileAmax(h, 60.0), 1.0);
}

}  // namespace
}  // namespace kiln
