#include "performance_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace kiln::cli {
namespace {

// Random, overlapping iterations (two streams' worth), each consistent: latency covers its parts.
std::vector<IterationTimes> randomTimes(size_t n, uint32_t seed, double h2dScale, double enqueueScale) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> part(0.2, 2.0), gap(0.0, 1.0);
    std::vector<IterationTimes> times;
    double clock = 0.5;
    for (size_t i = 0; i < n; ++i) {
        IterationTimes t;
        t.startMs = clock;
        t.h2dMs = part(rng) * h2dScale;
        t.computeMs = part(rng);
        t.d2hMs = part(rng) * h2dScale;
        t.enqueueMs = part(rng) * enqueueScale;
        t.endMs = t.startMs + t.h2dMs + t.computeMs + t.d2hMs + gap(rng);
        clock += gap(rng);
        times.push_back(t);
    }
    return times;
}

bool hasLine(const std::vector<ReportLine>& lines, const std::string& text, bool warning) {
    return std::any_of(lines.begin(), lines.end(), [&](const ReportLine& l) {
        return l.warning == warning && l.text.find(text) != std::string::npos;
    });
}

TEST(PerformanceReport, SummaryMatchesADoublePrecisionReference) {
    std::vector<IterationTimes> times = randomTimes(57, 3, 1.0, 1.0);
    PerformanceSummary summary = summarizePerformance(times, {50, 90});

    double first = 1e300, last = -1e300, totalCompute = 0, latencySum = 0;
    std::vector<double> latencies, compute;
    for (const auto& t : times) {
        first = std::min(first, t.startMs);
        last = std::max(last, t.endMs);
        totalCompute += t.computeMs;
        latencies.push_back(t.endMs - t.startMs);
        latencySum += t.endMs - t.startMs;
        compute.push_back(t.computeMs);
    }
    std::sort(latencies.begin(), latencies.end());
    EXPECT_EQ(summary.queries, times.size());
    EXPECT_NEAR(summary.walltimeMs, last - first, 1e-9);
    EXPECT_NEAR(summary.throughputQps, times.size() / ((last - first) / 1000.0), 1e-6);
    EXPECT_NEAR(summary.totalComputeMs, totalCompute, 1e-9);
    EXPECT_NEAR(summary.latency.meanMs, latencySum / times.size(), 1e-9);
    EXPECT_NEAR(summary.latency.minMs, latencies.front(), 1e-12);
    EXPECT_NEAR(summary.latency.maxMs, latencies.back(), 1e-12);
    EXPECT_NEAR(summary.latency.medianMs, latencies[28], 1e-12);  // 57 samples: the 29th
    double mean = totalCompute / times.size(), squares = 0;
    for (double c : compute) squares += (c - mean) * (c - mean);
    EXPECT_NEAR(summary.computeCoefficientOfVariation, std::sqrt(squares / times.size()) / mean, 1e-9);
}

TEST(PerformanceReport, TrtexecStructureAndCpuWording) {
    PerformanceSummary summary = summarizePerformance(randomTimes(20, 4, 1.0, 1.0), {99});
    RunTraits gpu;
    std::vector<ReportLine> lines = formatPerformanceSummary(summary, gpu);
    const char* order[] = {"=== Performance summary ===", "Throughput: ", "Latency: ", "Enqueue Time: ",
                           "H2D Latency: min", "GPU Compute Time: ", "D2H Latency: min", "Total Host Walltime: ",
                           "Total GPU Compute Time: "};
    size_t next = 0;
    for (const ReportLine& line : lines)
        if (next < std::size(order) && line.text.rfind(order[next], 0) == 0) ++next;
    EXPECT_EQ(next, std::size(order)) << "line " << next << " is missing or out of order";
    EXPECT_TRUE(hasLine(lines, "percentile(99%)", false));

    RunTraits cpu;
    cpu.deviceWord = "CPU";
    cpu.asynchronous = false;
    cpu.transfersData = false;
    lines = formatPerformanceSummary(summary, cpu);
    EXPECT_TRUE(hasLine(lines, "H2D Latency: not applicable", false));
    EXPECT_TRUE(hasLine(lines, "D2H Latency: not applicable", false));
    EXPECT_TRUE(hasLine(lines, "CPU Compute Time: min", false));
    EXPECT_TRUE(hasLine(lines, "Total CPU Compute Time: ", false));
    EXPECT_FALSE(hasLine(lines, "GPU", false));
}

TEST(PerformanceReport, BoundWarningsFollowTheNumbers) {
    RunTraits gpu;
    // Enqueue ten times the compute, transfers a hundredth: enqueue-bound only.
    auto enqueueBound = formatPerformanceSummary(summarizePerformance(randomTimes(30, 5, 0.01, 10), {}), gpu);
    EXPECT_TRUE(hasLine(enqueueBound, "bound by Enqueue Time", true));
    EXPECT_TRUE(hasLine(enqueueBound, "--useCudaGraph", true));
    EXPECT_FALSE(hasLine(enqueueBound, "host-to-device", true));
    // Transfers ten times the compute, enqueue a hundredth: transfer-bound only.
    auto transferBound = formatPerformanceSummary(summarizePerformance(randomTimes(30, 6, 10, 0.01), {}), gpu);
    EXPECT_TRUE(hasLine(transferBound, "bound by host-to-device transfers", true));
    EXPECT_TRUE(hasLine(transferBound, "bound by device-to-host transfers", true));
    EXPECT_TRUE(hasLine(transferBound, "--noDataTransfers", true));
    EXPECT_FALSE(hasLine(transferBound, "Enqueue Time rather", true));
    // A synchronous backend is never enqueue-bound, whatever the numbers.
    RunTraits cpu;
    cpu.deviceWord = "CPU";
    cpu.asynchronous = false;
    cpu.transfersData = false;
    auto synchronous = formatPerformanceSummary(summarizePerformance(randomTimes(30, 5, 0.01, 10), {}), cpu);
    EXPECT_FALSE(hasLine(synchronous, "bound by", true));
}

TEST(PerformanceReport, UnstableComputeIsReported) {
    std::vector<IterationTimes> steady = randomTimes(10, 7, 0.01, 0.01);
    for (auto& t : steady) t.computeMs = 1.0;
    RunTraits gpu;
    EXPECT_FALSE(hasLine(formatPerformanceSummary(summarizePerformance(steady, {}), gpu), "unstable", true));
    steady[3].computeMs = 5.0;  // coefficient of variation 120%
    EXPECT_TRUE(hasLine(formatPerformanceSummary(summarizePerformance(steady, {}), gpu), "unstable", true));
}

TEST(PerformanceReport, AveragedRunsFollowAvgRuns) {
    std::vector<IterationTimes> times = randomTimes(25, 8, 1, 1);
    RunTraits gpu;
    std::vector<std::string> lines = formatAveragedRuns(times, 10, gpu);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].rfind("Average on 10 runs - GPU latency: ", 0), 0u);
    EXPECT_EQ(lines[2].rfind("Average on 5 runs", 0), 0u);
    double sum = 0;
    for (size_t i = 20; i < 25; ++i) sum += times[i].computeMs;
    double shown = std::stod(lines[2].substr(lines[2].find("GPU latency: ") + 13));
    EXPECT_NEAR(shown, sum / 5, 1e-4 * sum);
}

TEST(PerformanceReport, ExportTimesIsValidJsonEvenWithNaN) {
    std::vector<IterationTimes> times = randomTimes(4, 9, 1, 1);
    times[2].h2dMs = std::numeric_limits<double>::quiet_NaN();
    times[3].d2hMs = std::numeric_limits<double>::infinity();
    auto path = std::filesystem::temp_directory_path() / "kiln_export_times_test.json";
    ASSERT_TRUE(exportTimes(path.string(), times).isOk());
    std::ifstream file(path);
    nlohmann::json json = nlohmann::json::parse(file);
    std::filesystem::remove(path);
    ASSERT_EQ(json.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_DOUBLE_EQ(json[i]["startMs"].get<double>(), times[i].startMs);
        EXPECT_DOUBLE_EQ(json[i]["latencyMs"].get<double>(), times[i].endMs - times[i].startMs);
        EXPECT_DOUBLE_EQ(json[i]["computeMs"].get<double>(), times[i].computeMs);
        EXPECT_TRUE(json[i].contains("enqueueMs") && json[i].contains("endMs"));
    }
    EXPECT_EQ(json[2]["h2dMs"], "NaN");
    EXPECT_EQ(json[3]["d2hMs"], "Infinity");
}

}  // namespace
}  // namespace kiln::cli
