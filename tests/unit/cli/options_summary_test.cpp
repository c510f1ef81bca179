#include "options_summary.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

std::vector<std::string> describe(const std::vector<std::string>& args) {
    ExecOptions options;
    CLI::App app;
    options.addOptions(app);
    test::parseArgs(app, args);
    Status status = options.parse(false);
    EXPECT_TRUE(status.isOk()) << status.message();
    return describeOptions(options);
}

bool has(const std::vector<std::string>& lines, const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(OptionsSummary, GroupsInTrtexecOrderWithDefaults) {
    std::vector<std::string> lines = describe({"--onnx=m.onnx"});
    std::vector<std::string> groups;
    for (const std::string& line : lines)
        if (line.rfind("===", 0) == 0) groups.push_back(line);
    EXPECT_EQ(groups, (std::vector<std::string>{"=== Model Options ===", "=== Build Options ===",
                                                "=== Inference Options ===", "=== Reporting Options ===",
                                                "=== System Options ==="}));
    for (const char* line : {"Format: ONNX", "Model: m.onnx", "Iterations: 10", "Duration: 3s (+ 200ms warm up)",
                             "Inference Streams: 1", "Percentiles: 90,95,99", "Precision: FP32+TF32", "Device: 0",
                             "Data transfers: Enabled", "Separate profiling: Disabled"})
        EXPECT_TRUE(has(lines, line)) << line;
}

TEST(OptionsSummary, EachFlagShowsItsValue) {
    std::vector<std::string> lines =
        describe({"--loadEngine=e.plan", "--infStreams=3", "--threads", "--iterations=42", "--duration=0.5",
                  "--warmUp=20", "--sleepTime=4", "--noDataTransfers", "--useSpinWait", "--percentile=50,99.9",
                  "--avgRuns=7", "--shapes=x:2x8", "--exportTimes=t.json", "--separateProfileRun", "--dumpProfile"});
    for (const char* line : {"Format: engine", "Model: e.plan", "Inference Streams: 3", "Multithreading: Enabled",
                             "Iterations: 42", "Duration: 0.5s (+ 20ms warm up)", "Sleep time: 4ms",
                             "Data transfers: Disabled", "Spin-wait: Enabled", "Percentiles: 50,99.9",
                             "Averages: 7 inferences", "Input inference shapes: x:2x8",
                             "Export timing to JSON file: t.json", "Separate profiling: Enabled", "Profile: Enabled"})
        EXPECT_TRUE(has(lines, line)) << line;
    std::vector<std::string> build = describe({"--onnx=m.onnx", "--minShapes=x:1x8", "--optShapes=x:4x8",
                                               "--maxShapes=x:9x8", "--fp16", "--noTF32",
                                               "--memPoolSize=workspace:512M"});
    for (const char* line : {"Input build shapes: min x:1x8, opt x:4x8, max x:9x8", "Precision: FP32+FP16",
                             "Memory pool workspace: 512 MiB"})
        EXPECT_TRUE(has(build, line)) << line;
    // The legacy --batch sets the run's batch: the summary says so rather than "opt shapes" alone.
    EXPECT_TRUE(has(describe({"--loadEngine=e.plan", "--batch=3"}),
                    "Input inference shapes: profile opt shapes, batch 3 (--batch)"));
}

}  // namespace
}  // namespace kiln::cli
