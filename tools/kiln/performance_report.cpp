#include "performance_report.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/file_io.h"
#include "output_export.h"

namespace kiln::cli {

namespace {

// Above this coefficient of variation the compute times are called unstable (trtexec warns at 10%).
constexpr double kUnstableVariation = 0.10;

template <typename Field>
std::vector<double> column(const std::vector<IterationTimes>& times, Field field) {
    std::vector<double> values;
    values.reserve(times.size());
    for (const IterationTimes& t : times) values.push_back(field(t));
    return values;
}

double coefficientOfVariation(const std::vector<double>& values, double mean) {
    if (values.size() < 2 || mean <= 0) return 0;
    double sumSquares = 0;
    for (double v : values) sumSquares += (v - mean) * (v - mean);
    return std::sqrt(sumSquares / static_cast<double>(values.size())) / mean;
}

std::string seconds(double ms) {
    std::ostringstream out;
    out << ms / 1000.0 << " s";
    return out.str();
}

}  // namespace

PerformanceSummary summarizePerformance(const std::vector<IterationTimes>& times,
                                        const std::vector<double>& percentiles) {
    PerformanceSummary summary;
    summary.queries = times.size();
    if (times.empty()) return summary;
    double first = times.front().startMs, last = times.front().endMs;
    for (const IterationTimes& t : times) {
        first = std::min(first, t.startMs);
        last = std::max(last, t.endMs);
    }
    summary.walltimeMs = last - first;
    summary.throughputQps =
        summary.walltimeMs > 0 ? static_cast<double>(times.size()) / (summary.walltimeMs / 1000.0) : 0;
    summary.latency = computeLatencyStats(column(times, [](const auto& t) { return t.latencyMs(); }), percentiles);
    summary.enqueue = computeLatencyStats(column(times, [](const auto& t) { return t.enqueueMs; }), percentiles);
    summary.h2d = computeLatencyStats(column(times, [](const auto& t) { return t.h2dMs; }), percentiles);
    std::vector<double> compute = column(times, [](const auto& t) { return t.computeMs; });
    summary.compute = computeLatencyStats(compute, percentiles);
    summary.d2h = computeLatencyStats(column(times, [](const auto& t) { return t.d2hMs; }), percentiles);
    for (double ms : compute) summary.totalComputeMs += ms;
    summary.computeCoefficientOfVariation = coefficientOfVariation(compute, summary.compute.meanMs);
    return summary;
}

std::vector<ReportLine> formatPerformanceSummary(const PerformanceSummary& summary, const RunTraits& traits) {
    std::vector<ReportLine> lines;
    auto info = [&](const std::string& text) { lines.push_back({false, text}); };
    auto warn = [&](const std::string& text) { lines.push_back({true, text}); };
    const std::string& device = traits.deviceWord;

    info("=== Performance summary ===");
    std::ostringstream throughput;
    throughput << "Throughput: " << summary.throughputQps << " qps";
    info(throughput.str());
    info("Latency: " + formatLatencyStats(summary.latency));
    info("Enqueue Time: " + formatLatencyStats(summary.enqueue));
    const char* noTransfer = traits.deviceWord == "CPU" ? "not applicable (CPU engine: it reads and writes the host "
                                                          "buffers in place)"
                                                        : "not applicable (--noDataTransfers)";
    info("H2D Latency: " + (traits.transfersData ? formatLatencyStats(summary.h2d) : std::string(noTransfer)));
    info(device + " Compute Time: " + formatLatencyStats(summary.compute));
    info("D2H Latency: " + (traits.transfersData ? formatLatencyStats(summary.d2h) : std::string(noTransfer)));
    info("Total Host Walltime: " + seconds(summary.walltimeMs));
    info("Total " + device + " Compute Time: " + seconds(summary.totalComputeMs));
    if (!traits.asynchronous)
        info("Note: on this backend enqueue runs the whole inference before it returns, so Enqueue Time is the "
             "compute time and cannot bound the throughput");

    if (traits.asynchronous && summary.enqueue.medianMs >= summary.compute.medianMs) {
        warn("* Throughput may be bound by Enqueue Time rather than " + device + " Compute and the " + device +
             " may be under-utilized.");
        if (!traits.usingCudaGraph)
            warn("  If not already in use, --useCudaGraph (utilize CUDA graphs where possible) may increase the "
                 "throughput.");
    }
    if (traits.transfersData && summary.h2d.medianMs >= summary.compute.medianMs) {
        warn("* Throughput may be bound by host-to-device transfers for the inputs rather than " + device +
             " Compute and the " + device + " may be under-utilized.");
        warn("  Add --noDataTransfers flag to disable data transfers.");
    }
    if (traits.transfersData && summary.d2h.medianMs >= summary.compute.medianMs) {
        warn("* Throughput may be bound by device-to-host transfers for the outputs rather than " + device +
             " Compute and the " + device + " may be under-utilized.");
        warn("  Add --noDataTransfers flag to disable data transfers.");
    }
    if (summary.computeCoefficientOfVariation > kUnstableVariation) {
        std::ostringstream unstable;
        unstable << "* " << device << " compute time is unstable, with coefficient of variance = "
                 << summary.computeCoefficientOfVariation * 100.0 << "%.";
        warn(unstable.str());
        warn(traits.deviceWord == "CPU"
                 ? "  Other processes competing for the cores, or frequency scaling, may cause this."
                 : "  If not already in use, locking GPU clock frequency or adding --useSpinWait may improve the "
                   "stability.");
    }
    info("Explanations of the performance metrics are printed in the verbose logs.");
    return lines;
}

std::vector<std::string> explainPerformanceMetrics(const RunTraits& traits) {
    const std::string& device = traits.deviceWord;
    std::vector<std::string> lines = {
        "=== Explanations of the performance metrics ===",
        "Total Host Walltime: from the start of the first timed inference (after warm-up) to the end of the last.",
        device + " Compute Time: the engine's run of one inference on the " + device + ".",
        "Total " + device + " Compute Time: the sum of " + device + " Compute Times of all timed inferences; above "
            "Total Host Walltime when several streams overlapped.",
        "Throughput: timed inferences divided by Total Host Walltime.",
        "Enqueue Time: the host time spent launching one inference.",
        "H2D Latency: copying one inference's inputs from the host to the device.",
        "D2H Latency: copying one inference's outputs from the device back to the host.",
        "Latency: from the launch of an inference to its outputs on the host: --sleepTime, H2D Latency, " + device +
            " Compute Time and D2H Latency, plus waiting for the stream.",
    };
    if (!traits.asynchronous)
        lines.push_back("On this " + device + " engine enqueue returns when the inference is done, and the "
                        "buffers are the host's: Enqueue Time equals " + device + " Compute Time, and nothing is "
                        "copied.");
    return lines;
}

std::vector<std::string> formatAveragedRuns(const std::vector<IterationTimes>& times, size_t avgRuns,
                                            const RunTraits& traits) {
    std::vector<std::string> lines;
    if (avgRuns == 0) return lines;
    for (size_t start = 0; start < times.size(); start += avgRuns) {
        size_t end = std::min(times.size(), start + avgRuns);
        double compute = 0, latency = 0, enqueue = 0;
        for (size_t i = start; i < end; ++i) {
            compute += times[i].computeMs;
            latency += times[i].latencyMs();
            enqueue += times[i].enqueueMs;
        }
        double n = static_cast<double>(end - start);
        std::ostringstream line;
        line << "Average on " << end - start << " runs - " << traits.deviceWord << " latency: " << compute / n
             << " ms - Host latency: " << latency / n << " ms (enqueue " << enqueue / n << " ms)";
        lines.push_back(line.str());
    }
    return lines;
}

Status exportTimes(const std::string& path, const std::vector<IterationTimes>& times) {
    std::string text = "[";
    for (const IterationTimes& t : times) {
        nlohmann::ordered_json entry = {{"startMs", jsonNumber(t.startMs)},     {"endMs", jsonNumber(t.endMs)},
                                        {"enqueueMs", jsonNumber(t.enqueueMs)}, {"h2dMs", jsonNumber(t.h2dMs)},
                                        {"computeMs", jsonNumber(t.computeMs)}, {"d2hMs", jsonNumber(t.d2hMs)},
                                        {"latencyMs", jsonNumber(t.latencyMs())}};
        text += (text.size() > 1 ? ",\n" : "\n") + entry.dump();
    }
    text += "\n]\n";
    return writeFile(path, text.data(), text.size()).withContext("--exportTimes");
}

}  // namespace kiln::cli
