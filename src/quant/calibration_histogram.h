#pragma once
// What calibration keeps of one activation tensor: the largest |x| and a histogram of |x|, and the
// three ways of turning them into a dynamic range (amax): MinMax, Entropy (KL divergence, NVIDIA's
// algorithm as TensorRT's entropy calibrators use it) and Percentile.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/calibrator.h"

namespace kiln {

/// A histogram of the nonzero |x| over [0, range) in kBins equal bins (values at the range's end go in
/// the last bin), and a count of exact zeros beside it. The range starts at the first nonzero batch's
/// max and doubles, merging bins pairwise, when a later batch goes beyond it: the merge is exact (no
/// value is re-binned by guess) and memory stays fixed however many batches come.
///
/// Zeros are kept apart because any scale represents them exactly, so they say nothing about where to
/// clip; in bin 0 the spike of a ReLU's zeros (half its values) would dominate the entropy search,
/// whose merged first level then spreads it over its neighbours and drives the threshold far into the
/// bulk (pytorch-quantization flattens bin 0 for the same reason).
class AbsHistogram {
public:
    /// TensorRT's bin count: fine enough that 128 quantization levels span at least 128 bins.
    static constexpr size_t kBins = 2048;

    AbsHistogram() : mBins(kBins, 0) {}

    /// Adds `count` values; NaN and infinities are counted apart (they have no place in a range).
    void add(const float* values, size_t count);

    const std::vector<uint64_t>& bins() const { return mBins; }
    /// The histogram's upper end (0 until a nonzero value arrived).
    double range() const { return mRange; }
    double binWidth() const { return mRange / static_cast<double>(kBins); }
    /// The largest finite |x| added.
    float absMax() const { return mAbsMax; }
    /// Finite values added (zeros included).
    uint64_t count() const { return mCount; }
    /// Exact zeros added (not in bins()).
    uint64_t zeroCount() const { return mZeros; }
    uint64_t nonFiniteCount() const { return mNonFinite; }

private:
    std::vector<uint64_t> mBins;
    double mRange{0.0};
    float mAbsMax{0.0f};
    uint64_t mCount{0};
    uint64_t mNonFinite{0};
    uint64_t mZeros{0};
};

/// The largest |x|.
double minMaxAmax(const AbsHistogram& histogram);

/// The upper edge of the bin holding the `percentile`th percentile of |x|, zeros included (percentile in
/// (0, 100]): within one bin width of the exact order statistic.
double percentileAmax(const AbsHistogram& histogram, double percentile);

/// NVIDIA's entropy calibration ("8-bit Inference with TensorRT", Migacz, GTC 2017): for each candidate
/// threshold of i bins (i = 128 ... kBins), the reference distribution P is the first i bins with all
/// counts beyond folded into the last one (what clipping at the threshold does), and Q is the same i
/// bins quantized to 128 levels (merged into 128 groups, each group's count spread evenly over its
/// nonzero bins). The threshold minimizing KL(P || Q) wins; amax is its bin's upper edge. Exact zeros
/// do not take part (see AbsHistogram).
double entropyAmax(const AbsHistogram& histogram);

/// The dynamic range `algorithm` gives (0 when nothing finite and nonzero was seen).
double chooseAmax(const AbsHistogram& histogram, CalibrationAlgoType algorithm, double percentile);

}  // namespace kiln
