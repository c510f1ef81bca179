#include "quant/calibration_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln {

namespace {

/// Levels of a symmetric int8 quantization of |x|: 0 ... 127 (and -127 ... -1 mirror them).
constexpr size_t kQuantizedLevels = 128;

/// KL(P || Q) of two unnormalized distributions over the same bins; infinite where Q misses mass P has.
double klDivergence(const std::vector<double>& p, const std::vector<double>& q) {
    double sumP = 0, sumQ = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        sumP += p[i];
        sumQ += q[i];
    }
    if (sumP <= 0) return 0;
    if (sumQ <= 0) return std::numeric_limits<double>::infinity();
    double divergence = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] <= 0) continue;
        if (q[i] <= 0) return std::numeric_limits<double>::infinity();
        const double pi = p[i] / sumP;
        divergence += pi * std::log(pi / (q[i] / sumQ));
    }
    return divergence;
}

}  // namespace

void AbsHistogram::add(const float* values, size_t count) {
    float batchMax = 0;
    for (size_t i = 0; i < count; ++i) {
        const float a = std::fabs(values[i]);
        if (std::isfinite(a)) batchMax = std::max(batchMax, a);
    }
    if (batchMax > 0) {
        if (mRange == 0) mRange = batchMax;
        while (mRange < batchMax) {
            // Doubling the range: bins 2k and 2k+1 become bin k.
            for (size_t k = 0; k < kBins / 2; ++k) mBins[k] = mBins[2 * k] + mBins[2 * k + 1];
            std::fill(mBins.begin() + kBins / 2, mBins.end(), 0);
            mRange *= 2;
        }
        mAbsMax = std::max(mAbsMax, batchMax);
    }
    const double scale = mRange > 0 ? static_cast<double>(kBins) / mRange : 0;
    for (size_t i = 0; i < count; ++i) {
        const float a = std::fabs(values[i]);
        if (!std::isfinite(a)) {
            ++mNonFinite;
            continue;
        }
        ++mCount;
        if (a == 0) {
            ++mZeros;
            continue;
        }
        const size_t bin = std::min(kBins - 1, static_cast<size_t>(static_cast<double>(a) * scale));
        ++mBins[bin];
    }
}

double minMaxAmax(const AbsHistogram& histogram) { return histogram.absMax(); }

double percentileAmax(const AbsHistogram& histogram, double percentile) {
    if (histogram.range() <= 0 || histogram.count() == 0) return 0;
    const double fraction = std::clamp(percentile, 0.0, 100.0) / 100.0;
    // The k-th smallest |x| (1-based), k = ceil(fraction * count), lies in the first bin whose
    // cumulative count reaches k.
    const auto k = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(histogram.count()))));
    uint64_t cumulative = histogram.zeroCount();
    if (cumulative >= k) return 0;
    const auto& bins = histogram.bins();
    for (size_t b = 0; b < bins.size(); ++b) {
        cumulative += bins[b];
        if (cumulative >= k) return std::min<double>(histogram.absMax(), static_cast<double>(b + 1) * histogram.binWidth());
    }
    return histogram.absMax();
}

double entropyAmax(const AbsHistogram& histogram) {
    if (histogram.range() <= 0 || histogram.count() == 0) return 0;
    const auto& bins = histogram.bins();
    const size_t n = bins.size();
    // Suffix sums: the counts a threshold of i bins clips.
    std::vector<double> beyond(n + 1, 0);
    for (size_t b = n; b-- > 0;) beyond[b] = beyond[b + 1] + static_cast<double>(bins[b]);

    double bestDivergence = std::numeric_limits<double>::infinity();
    size_t bestBins = n;
    std::vector<double> p, q;
    for (size_t i = kQuantizedLevels; i <= n; ++i) {
        p.assign(bins.begin(), bins.begin() + static_cast<std::ptrdiff_t>(i));
        p[i - 1] += beyond[i];
        // Q: bins [0, i) merged into 128 groups of i / 128 bins, the last group taking the remainder;
        // each group's total (without the clipped counts: they are what quantization at this threshold
        // loses) is spread over the group's bins that P has mass in.
        q.assign(i, 0.0);
        const size_t merged = i / kQuantizedLevels;
        for (size_t level = 0; level < kQuantizedLevels; ++level) {
            const size_t start = level * merged;
            const size_t stop = level + 1 == kQuantizedLevels ? i : start + merged;
            double total = 0;
            size_t nonzero = 0;
            for (size_t b = start; b < stop; ++b) {
                total += static_cast<double>(bins[b]);
                if (p[b] > 0) ++nonzero;
            }
            if (nonzero == 0) continue;
            for (size_t b = start; b < stop; ++b)
                if (p[b] > 0) q[b] = total / static_cast<double>(nonzero);
        }
        const double divergence = klDivergence(p, q);
        // Strictly smaller: among equal divergences the tightest threshold (finest step) wins.
        if (divergence < bestDivergence) {
            bestDivergence = divergence;
            bestBins = i;
        }
    }
    return std::min<double>(histogram.absMax(), static_cast<double>(bestBins) * histogram.binWidth());
}

double chooseAmax(const AbsHistogram& histogram, CalibrationAlgoType algorithm, double percentile) {
    switch (algorithm) {
        case CalibrationAlgoType::kMINMAX: return minMaxAmax(histogram);
        case CalibrationAlgoType::kENTROPY:
        case CalibrationAlgoType::kENTROPY_2: return entropyAmax(histogram);
        case CalibrationAlgoType::kPERCENTILE: return percentileAmax(histogram, percentile);
    }
    return minMaxAmax(histogram);
}

const char* calibrationAlgoName(CalibrationAlgoType type) noexcept {
    switch (type) {
        case CalibrationAlgoType::kMINMAX: return "MinMaxCalibration";
        case CalibrationAlgoType::kENTROPY: return "EntropyCalibration";
        case CalibrationAlgoType::kENTROPY_2: return "EntropyCalibration2";
        case CalibrationAlgoType::kPERCENTILE: return "PercentileCalibration";
    }
    return "UnknownCalibration";
}

}  // namespace kiln
