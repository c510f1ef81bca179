#pragma once
// Latency statistics of the performance summary, as trtexec reports them.

#include <string>
#include <utility>
#include <vector>

namespace kiln::cli {

struct LatencyStats {
    double minMs{0};
    double maxMs{0};
    double meanMs{0};
    double medianMs{0};
    std::vector<std::pair<double, double>> percentilesMs;  // (percentile, latency)
};

/// Statistics of `latenciesMs` (not empty). A percentile p is the nearest-rank value: the smallest
/// sample with at least p% of the samples at or below it.
LatencyStats computeLatencyStats(std::vector<double> latenciesMs, const std::vector<double>& percentiles);

/// "min = a ms, max = b ms, mean = c ms, median = d ms, percentile(90%) = e ms, ..."
std::string formatLatencyStats(const LatencyStats& stats);

}  // namespace kiln::cli
