// The builder's kernel timing (builder/tactic_selection.h) and the timing cache, with a stand-in
// backend whose kernels have three tactics of known speed: the fastest is chosen and stored in the
// node, the cache answers a problem timed before without running anything, level 0 times nothing,
// the search width follows the level, and a failing candidate is skipped. Runs without a GPU.

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "host_backed_device.h"
#include "builder/tactic_selection.h"
#include "ir/graph.h"
#include "kiln/timing_cache.h"

namespace kiln {
namespace {

/// What the stand-in kernels and backend share: each tactic's time, and what happened.
struct Bench {
    std::vector<double> millisecondsOf{3.0, 1.0, 2.0};  // tactic 1 is the fastest
    size_t failingTactic{99};
    size_t selected{0};
    int timedRuns{0};
    int64_t searchSeen{-1};
};

class ThreeTacticKernel : public Kernel, public TacticChooser {
public:
    ThreeTacticKernel(Bench& bench, const Node& node) : mBench(bench) {
        mBench.searchSeen = node.attrs.getInt(kTacticSearchAttribute, -1);
    }
    Status run(const KernelIO&) override {
        return mBench.selected == mBench.failingTactic ? unsupported("this tactic cannot run") : Status::ok();
    }
    std::string tacticName() const override { return "fake.three"; }
    size_t tacticCount() const override { return mBench.millisecondsOf.size(); }
    Status selectTactic(size_t index) override {
        mBench.selected = index;
        return Status::ok();
    }
    std::vector<int64_t> tacticState() const override { return {100 + static_cast<int64_t>(mBench.selected)}; }
    std::string tacticKey() const override { return "three m4"; }

private:
    Bench& mBench;
};

/// Host memory, a timer that reports the selected tactic's time.
class TimedBackend : public test::HostBackedDevice, public RunTimer {
public:
    explicit TimedBackend(Bench& bench) : mBench(bench) {}
    std::string name() const override { return "timed"; }
    std::string targetDescription() const override { return "fake target"; }
    bool supports(const Node&, std::string*) const override { return true; }
    Expected<std::unique_ptr<Kernel>> createKernel(const Node& node) const override {
        return std::unique_ptr<Kernel>(std::make_unique<ThreeTacticKernel>(mBench, node));
    }
    Expected<double> timeRuns(Stream, int warmup, int repeats, const std::function<Status()>& launch) override {
        for (int i = 0; i < warmup + repeats; ++i) KILN_RETURN_IF_ERROR(launch());
        mBench.timedRuns += warmup + repeats;
        return mBench.millisecondsOf[mBench.selected];
    }

private:
    Bench& mBench;
};

class TacticSelectionTest : public ::testing::Test {
protected:
    TacticSelectionTest() {
        Value* x = graph.addInput("x", DataType::kFLOAT, fromConcrete({2, 4}));
        node = graph.addNode("Relu", "act", {x}, {"y"}, 1);
        node->outputs[0]->dtype = DataType::kFLOAT;
        node->outputs[0]->shape = fromConcrete({2, 4});
        node->outputs[0]->typeKnown = true;
        graph.markOutput(node->outputs[0]);
        for (const auto& v : graph.values()) {
            if (!v) continue;
            if (infos.size() <= static_cast<size_t>(v->id)) infos.resize(static_cast<size_t>(v->id) + 1);
            infos[static_cast<size_t>(v->id)] = ValueInfo{v->dtype, v->shape, true, std::nullopt};
        }
    }

    Status select() {
        ProgressPhase parent(nullptr, "test", nullptr, 1);
        return selectTactics(graph, infos, backend, config, Logger(), parent);
    }

    Bench bench;
    TimedBackend backend{bench};
    BuilderConfig config;
    Graph graph;
    Node* node{nullptr};
    std::vector<ValueInfo> infos;
};

TEST_F(TacticSelectionTest, TheFastestTacticIsStoredInTheNode) {
    ASSERT_TRUE(select().isOk());
    EXPECT_EQ(node->attrs.getInts(kTacticAttribute).value_or(std::vector<int64_t>{}), std::vector<int64_t>{101});
    // Each of the 3 tactics: 2 warm-up runs and the configured timed runs (8 by default).
    EXPECT_EQ(bench.timedRuns, 3 * (2 + 8));
    // The wide search is asked of the trial copy only; the engine's node does not keep it.
    EXPECT_EQ(bench.searchSeen, static_cast<int64_t>(tacticCandidatesAt(3)));
    EXPECT_FALSE(node->attrs.has(kTacticSearchAttribute));
}

TEST_F(TacticSelectionTest, TheSearchWidthAndTimedRunsFollowTheConfig) {
    config.setBuilderOptimizationLevel(1);
    config.setAvgTimingIterations(3);
    ASSERT_TRUE(select().isOk());
    EXPECT_EQ(bench.searchSeen, 2);
    EXPECT_EQ(bench.timedRuns, 3 * (2 + 3));
    EXPECT_EQ(tacticCandidatesAt(0), 1u);
    EXPECT_EQ(tacticCandidatesAt(5), 32u);
}

TEST_F(TacticSelectionTest, LevelZeroTimesNothing) {
    config.setBuilderOptimizationLevel(0);
    ASSERT_TRUE(select().isOk());
    EXPECT_EQ(bench.timedRuns, 0);
    EXPECT_FALSE(node->attrs.has(kTacticAttribute));
}

TEST_F(TacticSelectionTest, ACachedProblemIsAnsweredWithoutTiming) {
    TimingCache cache;
    config.setTimingCache(&cache);
    ASSERT_TRUE(select().isOk());
    ASSERT_EQ(cache.entries().size(), 1u);
    const auto& [key, entry] = *cache.entries().begin();
    EXPECT_NE(key.find("fake target"), std::string::npos) << key;
    EXPECT_NE(key.find("Relu"), std::string::npos) << key;
    EXPECT_NE(key.find("three m4"), std::string::npos) << key;
    EXPECT_EQ(entry.tactic, std::vector<int64_t>{101});
    EXPECT_DOUBLE_EQ(entry.milliseconds, 1.0);
    EXPECT_EQ(entry.candidates, 3);

    // Another build of the same problem: the cache answers, nothing runs, the same choice is made, and
    // the one kernel created is the key probe (search 0): none is asked to list its candidates (cuDNN
    // would build every plan for that), nor to build its default one.
    node->attrs.erase(kTacticAttribute);
    bench.timedRuns = 0;
    bench.searchSeen = 99;
    bench.millisecondsOf = {0.5, 9.0, 9.0};  // timing would now pick tactic 0
    ASSERT_TRUE(select().isOk());
    EXPECT_EQ(bench.timedRuns, 0);
    EXPECT_EQ(bench.searchSeen, 0);
    EXPECT_EQ(node->attrs.getInts(kTacticAttribute).value_or(std::vector<int64_t>{}), std::vector<int64_t>{101});
}

TEST_F(TacticSelectionTest, AFailingCandidateIsSkipped) {
    bench.failingTactic = 1;  // the one that would be fastest
    ASSERT_TRUE(select().isOk());
    EXPECT_EQ(node->attrs.getInts(kTacticAttribute).value_or(std::vector<int64_t>{}), std::vector<int64_t>{102});
}

TEST(TimingCacheTest, RoundTripsThroughItsText) {
    TimingCache cache;
    cache.insert("gpu | MatMul | cublaslt f16 m8", {{1, -2, 3}, 0.25, "cuda.cublaslt_matmul_f16 #3", 8});
    cache.insert("gpu | Gemm | cublaslt f32 m4", {{7}, 1.5, "cuda.cublaslt_gemm_f32 #0", 2});
    std::string error;
    auto back = TimingCache::deserialize(cache.serialize(), &error);
    ASSERT_NE(back, nullptr) << error;
    ASSERT_EQ(back->entries().size(), 2u);
    const TimingCache::Entry* entry = back->find("gpu | MatMul | cublaslt f16 m8");
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->tactic, (std::vector<int64_t>{1, -2, 3}));
    EXPECT_DOUBLE_EQ(entry->milliseconds, 0.25);
    EXPECT_EQ(entry->tacticName, "cuda.cublaslt_matmul_f16 #3");
    EXPECT_EQ(entry->candidates, 8);
    EXPECT_EQ(back->find("absent"), nullptr);
}

TEST(TimingCacheTest, EmptyTextIsAnEmptyCacheAndOtherTextIsRefusedWithTheReason) {
    std::string error;
    auto empty = TimingCache::deserialize("  \n", &error);
    ASSERT_NE(empty, nullptr);
    EXPECT_TRUE(empty->entries().empty());
    for (const char* text : {"[1, 2]", "{\"entries\": []}", "{\"kiln_timing_cache\": 2, \"entries\": []}",
                             "{\"kiln_timing_cache\": 1, \"entries\": [{\"key\": \"k\"}]}",
                             "{\"kiln_timing_cache\": 1, \"entries\": [{\"key\": \"k\", \"tactic\": [1.5], \"ms\": 1}]}",
                             "not json"}) {
        error.clear();
        EXPECT_EQ(TimingCache::deserialize(text, &error), nullptr) << text;
        EXPECT_NE(error.find("not a Kiln timing cache"), std::string::npos) << text << ": " << error;
    }
}

}  // namespace
}  // namespace kiln
