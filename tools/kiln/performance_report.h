#pragma once
// The performance summary of `kiln exec`, in trtexec's structure: throughput, then statistics of
// latency, enqueue time, H2D latency, compute time and D2H latency, the totals, and warnings when
// the run was bound by something other than the engine's compute. Also --exportTimes.

#include <string>
#include <vector>

#include "common/status.h"
#include "iteration_times.h"
#include "latency_stats.h"
#include "reporting_options.h"

namespace kiln::cli {

/// What the numbers mean on the backend that produced them.
struct RunTraits {
    std::string deviceWord{"GPU"};  // "GPU" or "CPU": labels "GPU Compute Time" / "CPU Compute Time"
    bool asynchronous{true};        // enqueue returns before compute ends (false: enqueue is the compute)
    bool transfersData{true};       // inputs/outputs are copied between host and device
    bool usingCudaGraph{false};
};

struct PerformanceSummary {
    size_t queries{0};
    double walltimeMs{0};   // first start to last end, over all streams
    double throughputQps{0};
    LatencyStats latency, enqueue, h2d, compute, d2h;
    double totalComputeMs{0};
    double computeCoefficientOfVariation{0};  // standard deviation / mean of the compute times
};

/// Statistics of `times` (one entry per timed inference, any stream; not empty).
PerformanceSummary summarizePerformance(const std::vector<IterationTimes>& times, const std::vector<double>& percentiles);

struct ReportLine {
    bool warning{false};
    std::string text;
};

/// The summary's lines, beginning with "=== Performance summary ===".
std::vector<ReportLine> formatPerformanceSummary(const PerformanceSummary& summary, const RunTraits& traits);

/// What each metric of the summary means (printed with --verbose), for a backend with `traits`.
std::vector<std::string> explainPerformanceMetrics(const RunTraits& traits);

/// One "Average on N runs - ..." line per --avgRuns consecutive inferences (the verbose trace).
std::vector<std::string> formatAveragedRuns(const std::vector<IterationTimes>& times, size_t avgRuns,
                                            const RunTraits& traits);

/// --exportTimes: a JSON array with one object per inference: startMs, endMs, enqueueMs, h2dMs,
/// computeMs, d2hMs, latencyMs.
Status exportTimes(const std::string& path, const std::vector<IterationTimes>& times);

}  // namespace kiln::cli
