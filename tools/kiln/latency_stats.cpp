#include "latency_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace kiln::cli {

LatencyStats computeLatencyStats(std::vector<double> latenciesMs, const std::vector<double>& percentiles) {
    LatencyStats stats;
    if (latenciesMs.empty()) return stats;
    std::sort(latenciesMs.begin(), latenciesMs.end());
    size_t n = latenciesMs.size();
    stats.minMs = latenciesMs.front();
    stats.maxMs = latenciesMs.back();
    stats.meanMs = std::accumulate(latenciesMs.begin(), latenciesMs.end(), 0.0) / static_cast<double>(n);
    stats.medianMs = n % 2 ? latenciesMs[n / 2] : (latenciesMs[n / 2 - 1] + latenciesMs[n / 2]) / 2;
    for (double p : percentiles) {
        size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
        size_t index = std::clamp<size_t>(rank, 1, n) - 1;
        stats.percentilesMs.emplace_back(p, latenciesMs[index]);
    }
    return stats;
}

std::string formatLatencyStats(const LatencyStats& stats) {
    std::ostringstream out;
    out << "min = " << stats.minMs << " ms, max = " << stats.maxMs << " ms, mean = " << stats.meanMs
        << " ms, median = " << stats.medianMs << " ms";
    for (const auto& [p, ms] : stats.percentilesMs) out << ", percentile(" << p << "%) = " << ms << " ms";
    return out.str();
}

}  // namespace kiln::cli
