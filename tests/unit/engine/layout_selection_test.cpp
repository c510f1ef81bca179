// The builder's timed layout choice (builder/layout_selection.h) and the per-layer timing it shares with
// tactic selection (builder/layer_timing.h), with a stand-in backend whose kernels report known times:
// a convolution costs one amount in NCHW and another in NHWC (its tactic 1 is twice as fast as its
// default), a reformat Transpose and the other layers their own. The faster layout wins in both
// directions, reformat layers are counted, the tactic timed for each layout is the one measured, level 0
// times nothing, a warm timing cache reproduces the choice without running anything, and layers that
// cannot be timed alone are left out of both sums. Runs without a GPU.

#include "builder/layout_selection.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "host_backed_device.h"
#include "builder/layer_timing.h"
#include "builder/profile_resolution.h"
#include "builder/tactic_selection.h"
#include "common/half.h"
#include "ir/ops/layout_attributes.h"
#include "ir/shape_inference.h"
#include "kiln/timing_cache.h"
#include "test_support.h"

namespace kiln {
namespace {

constexpr int64_t kChannels = 8, kSpatial = 16;  // X is 1x8x16x16: NHWC is told apart by its last extent

/// What the stand-in kernels cost and what the timer saw.
struct Device {
    double nchwConvMs{1.0};
    double channelsLastConvMs{0.5};
    double transposeMs{0.1};
    double otherMs{0.01};
    /// Whether a layer's kernel fails to run, from the node and its first input's shape.
    std::function<bool(const Node&, const Shape&)> fails = [](const Node&, const Shape&) { return false; };

    int timerCalls{0};
    double lastRunMs{0};
    int floatInputsSeen{0};
    int zeroFloatInputs{0};
};

class FakeKernel : public Kernel {
public:
    FakeKernel(Device& device, const Node& node) : mDevice(device), mNode(node) {}
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        mInputShape = inputs.empty() ? Shape{} : inputs[0].shape;
        return Status::ok();
    }
    Status run(const KernelIO& io) override {
        for (size_t i = 0; i < io.numInputs; ++i) {
            const TensorView& in = io.input(i);
            if (!in.data || (in.dtype != DataType::kHALF && in.dtype != DataType::kFLOAT)) continue;
            ++mDevice.floatInputsSeen;
            mDevice.zeroFloatInputs += allZero(in);
        }
        if (mDevice.fails(mNode, mInputShape)) return unsupported("this layer cannot run here");
        mDevice.lastRunMs = cost();
        return Status::ok();
    }
    std::string tacticName() const override { return "fake." + mNode.opType; }

protected:
    /// Every element +0 or -0 (the sign bit aside).
    static bool allZero(const TensorView& view) {
        const auto count = static_cast<size_t>(view.elementCount());
        for (size_t i = 0; i < count; ++i) {
            const bool zero = view.dtype == DataType::kHALF
                                  ? (static_cast<const uint16_t*>(view.data)[i] & 0x7fffu) == 0
                                  : (static_cast<const uint32_t*>(view.data)[i] & 0x7fffffffu) == 0;
            if (!zero) return false;
        }
        return true;
    }

    virtual double cost() const { return mNode.opType == "Transpose" ? mDevice.transposeMs : mDevice.otherMs; }

    Device& mDevice;
    Node mNode;
    Shape mInputShape;
};

/// Two tactics, state {layout, index}: a state stored for the other layout is not applied (as a cuDNN
/// plan for NCHW is no plan for NHWC), so the node keeps the default.
class FakeConvKernel : public FakeKernel, public TacticChooser {
public:
    FakeConvKernel(Device& device, const Node& node) : FakeKernel(device, node) {
        mLayout = node.attrs.getInt(kChannelsLastAttribute, 0);
        auto stored = node.attrs.getInts(kTacticAttribute);
        if (stored && stored->size() == 2 && (*stored)[0] == mLayout) mSelected = static_cast<size_t>((*stored)[1]);
    }
    size_t tacticCount() const override { return 2; }
    Status selectTactic(size_t index) override {
        mSelected = index;
        return Status::ok();
    }
    std::vector<int64_t> tacticState() const override { return {mLayout, static_cast<int64_t>(mSelected)}; }
    std::string tacticKey() const override { return mLayout ? "conv nhwc" : "conv nchw"; }

private:
    double cost() const override {
        const double base = mLayout ? mDevice.channelsLastConvMs : mDevice.nchwConvMs;
        return mSelected == 1 ? base : 2 * base;
    }

    int64_t mLayout{0};
    size_t mSelected{0};
};

class FakeTimedBackend : public test::HostBackedDevice, public RunTimer {
public:
    explicit FakeTimedBackend(Device& device) : mDevice(device) {}
    std::string name() const override { return "timed"; }
    std::string targetDescription() const override { return "fake target"; }
    bool supports(const Node&, std::string*) const override { return true; }
    Expected<std::unique_ptr<Kernel>> createKernel(const Node& node) const override {
        if (node.opType == "Conv" || node.opType == "FusedConv")
            return std::unique_ptr<Kernel>(std::make_unique<FakeConvKernel>(mDevice, node));
        return std::unique_ptr<Kernel>(std::make_unique<FakeKernel>(mDevice, node));
    }
    Expected<double> timeRuns(Stream, int warmup, int repeats, const std::function<Status()>& launch) override {
        ++mDevice.timerCalls;
        for (int i = 0; i < warmup + repeats; ++i) KILN_RETURN_IF_ERROR(launch());
        return mDevice.lastRunMs;
    }

private:
    Device& mDevice;
};

class CapturingLogger : public ILogger {
public:
    void log(Severity severity, const char* message) noexcept override { messages.emplace_back(severity, message); }
    /// The first message starting with `prefix`, or "".
    std::string find(const std::string& prefix) const {
        for (const auto& [severity, message] : messages)
            if (message.rfind(prefix, 0) == 0) return message;
        return "";
    }
    bool contains(const std::string& part) const {
        for (const auto& [severity, message] : messages)
            if (message.find(part) != std::string::npos) return true;
        return false;
    }
    std::vector<std::pair<Severity, std::string>> messages;
};

/// x (float16 1x8x16x16) -> Conv -> Relu -> Conv -> y: channels-last makes it Transpose -> FusedConv ->
/// Relu -> FusedConv -> Transpose, two reformat layers.
std::unique_ptr<Graph> twoConvNetwork(uint32_t weightSeed) {
    auto g = std::make_unique<Graph>();
    auto conv = [&](Value* x, const std::string& name, const std::string& out, uint32_t seed) {
        Value* w = g->addConstant(g->uniqueValueName(name + "_w"),
                                  test::randomTensor(DataType::kHALF, {kChannels, kChannels, 3, 3}, -1, 1, seed));
        Node* node = g->addNode("Conv", name, {x, w}, {out}, 1);
        node->attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
        return node->outputs[0];
    };
    Value* x = g->addInput("x", DataType::kHALF, fromConcrete({1, kChannels, kSpatial, kSpatial}));
    Value* h = conv(x, "conv1", "h", weightSeed);
    Value* r = g->addNode("Relu", "relu", {h}, {"r"}, 1)->outputs[0];
    g->markOutput(conv(r, "conv2", "y", weightSeed + 1));
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    EXPECT_TRUE(inferGraphShapes(*g, options).isOk());
    return g;
}

size_t count(const Graph& g, const std::string& op, bool channelsLast = false) {
    size_t n = 0;
    for (const auto& node : g.nodes())
        n += node->opType == op && (!channelsLast || node->attrs.getInt(kChannelsLastAttribute, 0) == 1);
    return n;
}

class LayoutSelectionTest : public ::testing::Test {
protected:
    LayoutSelectionTest() {
        const Shape x{1, kChannels, kSpatial, kSpatial};
        profiles[0].inputs["x"] = {x, x, x};
    }

    Status select() {
        ProgressPhase parent(nullptr, "test", nullptr, 1);
        Logger log(&logger);
        PrepareLayers prepare = [&](Graph& g) -> Status {
            ++prepared;
            KILN_ASSIGN_OR_RETURN(auto infos, inferAtProfile(g, profiles[0], OptProfileSelector::kOPT));
            return selectTactics(g, infos, backend, config, log, parent);
        };
        return selectLayout(graph, profiles, backend, config, log, parent, prepare);
    }

    /// The builder's one info line about the choice starts with `expected`.
    void expectLayoutLine(const std::string& expected) const {
        const std::string line = logger.find("layout: ");
        EXPECT_EQ(line.rfind(expected, 0), 0u) << "expected: " << expected << "\nlogged:   " << line;
    }

    bool keptChannelsLast() const { return count(*graph, "FusedConv", true) == 2 && count(*graph, "Transpose") == 2; }
    bool keptNchw() const { return count(*graph, "Conv") == 2 && count(*graph, "Transpose") == 0; }

    /// Every convolution's stored tactic state.
    std::vector<std::vector<int64_t>> convTactics() const {
        std::vector<std::vector<int64_t>> states;
        for (const auto& node : graph->nodes())
            if (node->opType == "Conv" || node->opType == "FusedConv")
                states.push_back(node->attrs.getInts(kTacticAttribute).value_or(std::vector<int64_t>{}));
        return states;
    }

    Device device;
    FakeTimedBackend backend{device};
    BuilderConfig config;
    CapturingLogger logger;
    std::vector<ProfileShapes> profiles{1};
    std::unique_ptr<Graph> graph = twoConvNetwork(1);
    int prepared{0};
};

TEST_F(LayoutSelectionTest, ChannelsLastWinsWhereItsConvolutionsAreFaster) {
    device.nchwConvMs = 1.0;
    device.channelsLastConvMs = 0.2;
    ASSERT_TRUE(select().isOk());
    EXPECT_TRUE(keptChannelsLast());
    EXPECT_EQ(prepared, 2);
    // Sums of the layers with their chosen tactic (1: the fast one): NCHW 1 + 0.01 + 1; channels-last
    // 0.2 + 0.01 + 0.2 and two 0.1 ms reformats.
    expectLayoutLine(
        "layout: NCHW 2.010 ms, channels-last 0.6100 ms (sum of layer medians, 2 reformat layers): "
        "channels-last");
    // The NHWC convolutions carry the tactic timed in their own layout, not the NCHW one.
    EXPECT_EQ(convTactics(), (std::vector<std::vector<int64_t>>{{1, 1}, {1, 1}}));
    // Timing data: weights and random activations, never an all-zero float tensor.
    EXPECT_GT(device.floatInputsSeen, 0);
    EXPECT_EQ(device.zeroFloatInputs, 0);
}

TEST_F(LayoutSelectionTest, NchwWinsWhereItsConvolutionsAreFaster) {
    device.nchwConvMs = 0.3;
    device.channelsLastConvMs = 1.0;
    ASSERT_TRUE(select().isOk());
    EXPECT_TRUE(keptNchw());
    expectLayoutLine("layout: NCHW 0.6100 ms, channels-last 2.210 ms (sum of layer medians, 2 reformat layers): NCHW");
    EXPECT_EQ(convTactics(), (std::vector<std::vector<int64_t>>{{0, 1}, {0, 1}}));
}

TEST_F(LayoutSelectionTest, ReformatLayersAreCounted) {
    // The NHWC convolutions alone are faster (0.8 against 1.0 ms), the two reformats (0.4 ms) undo it.
    device.nchwConvMs = 0.5;
    device.channelsLastConvMs = 0.4;
    device.transposeMs = 0.2;
    ASSERT_TRUE(select().isOk());
    EXPECT_TRUE(keptNchw());
    expectLayoutLine("layout: NCHW 1.010 ms, channels-last 1.210 ms (sum of layer medians, 2 reformat layers): NCHW");
}

TEST_F(LayoutSelectionTest, LevelZeroKeepsTheHeuristicWithoutTiming) {
    config.setBuilderOptimizationLevel(0);
    device.nchwConvMs = 0.1;  // NCHW would win if anything were timed
    ASSERT_TRUE(select().isOk());
    EXPECT_TRUE(keptChannelsLast());
    EXPECT_EQ(device.timerCalls, 0);
    EXPECT_EQ(logger.find("layout: "), "");
}

TEST_F(LayoutSelectionTest, AWarmCacheReproducesTheChoiceWithoutTiming) {
    for (const bool channelsLastFaster : {true, false}) {
        SCOPED_TRACE(channelsLastFaster ? "channels-last chosen" : "NCHW chosen");
        TimingCache cache;
        config.setTimingCache(&cache);
        graph = twoConvNetwork(1);
        device = Device();
        device.nchwConvMs = channelsLastFaster ? 1.0 : 0.2;
        device.channelsLastConvMs = channelsLastFaster ? 0.2 : 1.0;
        ASSERT_TRUE(select().isOk());
        EXPECT_EQ(keptChannelsLast(), channelsLastFaster);
        const std::string layoutKey = "fake target | layout | 3 layers ";
        const TimingCache::Entry* decision = nullptr;
        for (const auto& [key, entry] : cache.entries())
            if (key.rfind(layoutKey, 0) == 0) decision = &entry;
        ASSERT_NE(decision, nullptr);
        EXPECT_EQ(decision->tactic, std::vector<int64_t>{channelsLastFaster ? kLayoutChannelsLast : kLayoutNchw});
        EXPECT_EQ(decision->candidates, 2);

        // A rebuild (other weights: the key is the structure) where timing would now choose the other way.
        graph = twoConvNetwork(7);
        std::swap(device.nchwConvMs, device.channelsLastConvMs);
        device.timerCalls = 0;
        prepared = 0;
        ASSERT_TRUE(select().isOk());
        EXPECT_EQ(device.timerCalls, 0);
        EXPECT_EQ(prepared, 1);
        EXPECT_EQ(keptChannelsLast(), channelsLastFaster);
        EXPECT_EQ(keptNchw(), !channelsLastFaster);
        const int64_t layout = channelsLastFaster ? 1 : 0;
        EXPECT_EQ(convTactics(), (std::vector<std::vector<int64_t>>{{layout, 1}, {layout, 1}}));
        EXPECT_TRUE(logger.contains("answered by the timing cache: " +
                                    std::string(channelsLastFaster ? "channels-last" : "NCHW")));
    }
}

TEST_F(LayoutSelectionTest, ALayerThatCannotBeTimedAloneIsLeftOutOfBothSums) {
    // The Relu runs in NCHW at an enormous cost, and fails in NHWC: counted in the NCHW sum only, it
    // would hand the choice to channels-last, whose convolutions are slower.
    device.fails = [](const Node& node, const Shape& in) {
        return node.opType == "Relu" && in.size() == 4 && in[3] == kChannels && in[1] == kSpatial;
    };
    device.otherMs = 10.0;
    device.nchwConvMs = 0.3;
    device.channelsLastConvMs = 0.5;
    device.transposeMs = 0.01;
    ASSERT_TRUE(select().isOk());
    EXPECT_TRUE(keptNchw());
    expectLayoutLine(
        "layout: NCHW 0.6000 ms, channels-last 1.020 ms (sum of layer medians, 2 reformat layers, 1 layer "
        "not timed alone and left out): NCHW");
    EXPECT_TRUE(logger.contains("'relu' (Relu) is left out of both sums: this layer cannot run here"));
}

TEST_F(LayoutSelectionTest, WithNothingToCompareTheHeuristicStaysAndNothingIsCached) {
    // Every layer fails when timed alone; tactic timing (whose trial nodes ask for a search) still runs.
    device.fails = [](const Node& node, const Shape&) { return !node.attrs.has(kTacticSearchAttribute); };
    device.nchwConvMs = 0.1;
    TimingCache cache;
    config.setTimingCache(&cache);
    ASSERT_TRUE(select().isOk());
    EXPECT_TRUE(keptChannelsLast());
    expectLayoutLine("layout: no layer could be timed alone in both layouts: channels-last");
    for (const auto& [key, entry] : cache.entries()) EXPECT_EQ(key.find("| layout |"), std::string::npos) << key;
}

TEST_F(LayoutSelectionTest, ALayerIsTimedWithItsTacticAndRandomDataUnlessItCannotBeTimedAlone) {
    config.setAvgTimingIterations(3);
    Node& conv = *graph->nodes()[0];
    auto infos = inferAtProfile(*graph, profiles[0], OptProfileSelector::kOPT);
    ASSERT_TRUE(infos.isOk());
    device.nchwConvMs = 0.25;
    auto untuned = timeLayer(backend, backend, config, conv, infos.value());
    ASSERT_TRUE(untuned.isOk()) << untuned.status().message();
    EXPECT_DOUBLE_EQ(untuned.value(), 0.5);  // the default tactic
    conv.attrs.set(kTacticAttribute, std::vector<int64_t>{0, 1});
    auto tuned = timeLayer(backend, backend, config, conv, infos.value());
    ASSERT_TRUE(tuned.isOk());
    EXPECT_DOUBLE_EQ(tuned.value(), 0.25);
    EXPECT_EQ(device.timerCalls, 2);
    EXPECT_EQ(device.floatInputsSeen, 2 * (kWarmupRuns + 3) * 2);  // X and W, every run
    EXPECT_EQ(device.zeroFloatInputs, 0);

    // Control flow: its time is that of its subgraphs' runs.
    Node loop = conv;
    loop.opType = "Loop";
    loop.attrs.set("body", std::make_shared<Graph>());
    auto controlFlow = timeLayer(backend, backend, config, loop, infos.value());
    ASSERT_FALSE(controlFlow.isOk());
    EXPECT_NE(controlFlow.status().message().find("control flow"), std::string::npos);

    // A shape known only while running.
    std::vector<ValueInfo> unknown = infos.value();
    unknown[static_cast<size_t>(conv.outputs[0]->id)].shape =
        SymShape{Dim(1), Dim::unknown(), Dim(kSpatial), Dim(kSpatial)};
    auto dataDependent = timeLayer(backend, backend, config, conv, unknown);
    ASSERT_FALSE(dataDependent.isOk());
    EXPECT_NE(dataDependent.status().message().find("known only while running"), std::string::npos);
    EXPECT_EQ(device.timerCalls, 2);
}

}  // namespace
}  // namespace kiln
