// The cuDNN convolution beyond NCHW defaults: channels-last (NHWC) FusedConv against the CPU backend's NCHW
// Conv (inputs transposed on the host, the epilogue added in double, the reference transposed to NHWC),
// in float without TF32 and in float16; and cuDNN's execution plans as timed tactics: several listed
// for a 3x3 float16 convolution, each one giving the reference's result, and a chosen one carried by its
// tacticState() through kTacticAttribute into a new kernel, which then runs that plan. Which nodes the
// backend takes in channels-last form is checked on the host, so that test runs without a GPU too.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "backends/precision_attributes.h"
#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include "backends/cuda/cuda_kernel_registry.h"
#endif
#include "backends/tactic_choice.h"
#include "conv_nhwc_reference.h"
#include "cuda_test_support.h"
#include "kernel_rig.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cudatest {
namespace {

using CudaConvNhwcTest = CudaTest;

// Float without TF32: only the summation order differs from the CPU's; the absolute part scales with
// the number of products summed (values in [-1, 1]).
constexpr double kFloatRtol = 1e-4;
// float16 inputs are exact in the float reference; results are rounded to float16 (2^-11 relative),
// twice where the epilogue runs as a separate pass.
constexpr double kHalfRtol = 2e-3;

double rtolOf(DataType type) {
    return type == DataType::kHALF ? kHalfRtol : kFloatRtol;
}

double atolOf(DataType type, const Shape& w) {
    const double taps = static_cast<double>(w[1] * w[2] * w[3]);
    return type == DataType::kHALF ? kHalfRtol * std::sqrt(taps) : kFloatRtol * taps;
}

struct NhwcCase {
    const char* label;
    Shape x;  // N C H W (the reference's layout; the GPU gets it transposed)
    Shape w;  // K C/g R S
    int64_t group;
    std::vector<int64_t> strides, pads;
    bool bias, residual;
    const char* activation;  // nullptr: none
    std::vector<float> params;
};

std::vector<NhwcCase> nhwcCases() {
    return {
        {"plain", {2, 16, 9, 10}, {32, 16, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, false, false, nullptr, {}},
        {"bias 1x1", {1, 8, 12, 12}, {16, 8, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, true, false, nullptr, {}},
        {"bias+residual+Relu", {2, 16, 8, 8}, {16, 16, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, true, true, "Relu", {}},
        {"grouped", {1, 16, 10, 10}, {32, 4, 3, 3}, 4, {1, 1}, {1, 1, 1, 1}, true, false, nullptr, {}},
        {"depthwise", {2, 32, 9, 9}, {32, 1, 3, 3}, 32, {1, 1}, {1, 1, 1, 1}, true, true, "Relu", {}},
        {"stride 2 pads", {1, 8, 15, 13}, {16, 8, 3, 3}, 1, {2, 2}, {1, 0, 2, 1}, true, false, "Sigmoid", {}},
        {"stem 7x7 stride 2", {1, 3, 31, 29}, {8, 3, 7, 7}, 1, {2, 2}, {3, 3, 3, 3}, true, false, "Relu", {}},
        // LeakyRelu is no cuDNN pointwise mode: the epilogue pass runs, indexing NHWC channels.
        {"LeakyRelu epilogue", {2, 8, 7, 9}, {24, 8, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, true, true, "LeakyRelu", {0.1f}},
    };
}

AttributeMap windowAttrs(const NhwcCase& c) {
    AttributeMap attrs;
    attrs.set("group", c.group);
    attrs.set("strides", c.strides);
    attrs.set("pads", c.pads);
    attrs.set("dilations", std::vector<int64_t>{1, 1});
    return attrs;
}

TEST_F(CudaConvNhwcTest, ChannelsLastFusedConvMatchesNchwReference) {
    uint32_t seed = 7000;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const NhwcCase& c : nhwcCases()) {
            const std::string label = std::string("channels-last FusedConv ") + dataTypeName(type) + " " + c.label +
                                      " X " + shapeLabel(c.x) + " W " + shapeLabel(c.w);
            Tensor x = test::randomTensor(type, c.x, -1.0, 1.0, seed++);
            Tensor w = test::randomTensor(type, c.w, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(type, {c.w[0]}, -1.0, 1.0, seed++);
            const Tensor xf = convertTensor(x, DataType::kFLOAT);
            const Tensor wf = convertTensor(w, DataType::kFLOAT);
            const AttributeMap attrs = windowAttrs(c);
            std::vector<Tensor> conv = cpuReference("Conv", {&xf, &wf}, 1, attrs);
            ASSERT_EQ(conv.size(), 1u) << label;
            const Shape yShape = conv[0].shape();  // N K OH OW
            Tensor z = test::randomTensor(type, yShape, -1.0, 1.0, seed++);

            // The NCHW reference: conv + bias[k] + z, then the activation, in double; then in NHWC order.
            std::vector<double> reference = conv[0].toDoubleVector();
            const int64_t inner = yShape[2] * yShape[3];
            for (size_t i = 0; i < reference.size(); ++i) {
                double v = reference[i];
                if (c.bias) v += b.elementAsDouble(static_cast<int64_t>(i) / inner % yShape[1]);
                if (c.residual) v += z.elementAsDouble(static_cast<int64_t>(i));
                reference[i] = activate(c.activation, c.params, v);
            }
            reference = channelsLastValues(reference, yShape);

            AttributeMap fusedAttrs = attrs;
            fusedAttrs.set(kChannelsLastAttribute, int64_t{1});
            fusedAttrs.set(kAllowTf32Attribute, int64_t{0});
            if (c.activation) fusedAttrs.set("activation", std::string(c.activation));
            if (!c.params.empty()) fusedAttrs.set("activation_params", c.params);
            const Tensor xNhwc = channelsLast(x);
            const Tensor wNhwc = channelsLast(w);
            const Tensor zNhwc = channelsLast(z);
            std::vector<const Tensor*> inputs = {&xNhwc, &wNhwc, c.bias ? &b : nullptr};
            if (c.residual) inputs.push_back(&zNhwc);
            const Shape yNhwc = {yShape[0], yShape[2], yShape[3], yShape[1]};
            auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", inputs, {type}, {yNhwc}, fusedAttrs, "kiln");
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_NE(gpu->tactic.find("_nhwc"), std::string::npos) << label << ": tactic " << gpu->tactic;
            if (c.activation && std::string(c.activation) == "LeakyRelu")
                EXPECT_NE(gpu->tactic.find("+epilogue"), std::string::npos) << label << ": tactic " << gpu->tactic;
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, rtolOf(type), atolOf(type, c.w)), "")
                << label << " (tactic " << gpu->tactic << ")";
        }
    }
}

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
/// Whether the CUDA backend's FusedConv entry takes a float node with X and W of these shapes and this
/// kiln_channels_last value; checked on the host, so it runs without a GPU.
bool fusedConvSupported(const Shape& x, const Shape& w, int64_t channelsLast, std::string* reason) {
    Graph graph;
    Value* xv = graph.addInput("x", DataType::kFLOAT, fromConcrete(x));
    Value* wv = graph.addInput("w", DataType::kFLOAT, fromConcrete(w));
    Node* node = graph.addNode("FusedConv", "conv", {xv, wv}, {}, 1);
    node->domain = "kiln";
    node->attrs.set(kChannelsLastAttribute, channelsLast);
    const cuda::CudaKernelEntry* entry = cuda::CudaKernelRegistry::global().find("kiln::FusedConv");
    EXPECT_NE(entry, nullptr);
    return entry && entry->supports(*node, reason);
}

TEST(CudaConvNhwcSupport, ChannelsLastTakesFourDimensionalTensorsOnly) {
    std::string reason;
    EXPECT_TRUE(fusedConvSupported({1, 4, 4, 8}, {8, 3, 3, 8}, 1, &reason)) << reason;
    EXPECT_TRUE(fusedConvSupported({1, 8, 4, 4, 4}, {8, 8, 3, 3, 3}, 0, &reason)) << reason;
    reason.clear();
    EXPECT_FALSE(fusedConvSupported({1, 4, 4, 4, 8}, {8, 3, 3, 3, 8}, 1, &reason));
    EXPECT_NE(reason.find("channels-last"), std::string::npos) << reason;
    reason.clear();
    EXPECT_FALSE(fusedConvSupported({1, 4, 8}, {8, 3, 8}, 1, &reason));
    EXPECT_NE(reason.find("rank 3"), std::string::npos) << reason;
    reason.clear();
    EXPECT_FALSE(fusedConvSupported({1, 4, 4, 8}, {8, 3, 3, 8}, 2, &reason));
    EXPECT_NE(reason.find(kChannelsLastAttribute), std::string::npos) << reason;
}
#endif

struct TacticCase {
    const char* label;
    bool channelsLast;
    bool biasRelu;  // FusedConv with bias and Relu (cuDNN's fused graph where an engine runs it)
};

TEST_F(CudaConvNhwcTest, PlansAreTimedTacticsThatRoundTrip) {
    const Shape xShape = {2, 32, 14, 14};
    const Shape wShape = {64, 32, 3, 3};
    const Shape yShape = {2, 64, 14, 14};
    uint32_t seed = 9000;
    for (const TacticCase& c : {TacticCase{"NCHW", false, false}, TacticCase{"NHWC", true, false},
                                TacticCase{"NHWC bias+Relu", true, true}}) {
        const std::string label = std::string("3x3 float16 FusedConv ") + c.label;
        Tensor x = test::randomTensor(DataType::kHALF, xShape, -1.0, 1.0, seed++);
        Tensor w = test::randomTensor(DataType::kHALF, wShape, -1.0, 1.0, seed++);
        Tensor b = test::randomTensor(DataType::kHALF, {wShape[0]}, -1.0, 1.0, seed++);
        const Tensor xf = convertTensor(x, DataType::kFLOAT);
        const Tensor wf = convertTensor(w, DataType::kFLOAT);
        AttributeMap attrs;
        attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
        std::vector<Tensor> conv = cpuReference("Conv", {&xf, &wf}, 1, attrs);
        ASSERT_EQ(conv.size(), 1u) << label;
        ASSERT_EQ(conv[0].shape(), yShape) << label;
        std::vector<double> reference = conv[0].toDoubleVector();
        if (c.biasRelu)
            for (size_t i = 0; i < reference.size(); ++i)
                reference[i] =
                    std::max(0.0, reference[i] + b.elementAsDouble(static_cast<int64_t>(i) / (14 * 14) % 64));
        if (c.channelsLast) reference = channelsLastValues(reference, yShape);

        const Tensor xIn = c.channelsLast ? channelsLast(x) : x;
        const Tensor wIn = c.channelsLast ? channelsLast(w) : w;
        const Shape yOut = c.channelsLast ? Shape{2, 14, 14, 64} : yShape;
        std::vector<const Tensor*> inputs = {&xIn, &wIn};
        if (c.biasRelu) {
            inputs.push_back(&b);
            attrs.set("activation", std::string("Relu"));
        }
        if (c.channelsLast) attrs.set(kChannelsLastAttribute, int64_t{1});
        KernelRig rig(*mBackend, mStream, "FusedConv", "kiln", inputs, DataType::kHALF, yOut);
        const double atol = atolOf(DataType::kHALF, wShape);

        // The builder's trial kernel: up to 8 plans, each giving the reference's result.
        AttributeMap search = attrs;
        search.set(kTacticSearchAttribute, int64_t{8});
        auto searching = rig.kernel(search);
        ASSERT_TRUE(searching.isOk()) << label << ": " << searching.status().message();
        auto* chooser = dynamic_cast<TacticChooser*>(searching->get());
        ASSERT_NE(chooser, nullptr) << label;
        const size_t count = chooser->tacticCount();
        if (!c.biasRelu) EXPECT_GT(count, 1u) << label << ": cuDNN lists one plan";
        ASSERT_GE(count, 1u) << label;
        EXPECT_LE(count, 8u) << label;
        EXPECT_FALSE(chooser->tacticKey().empty()) << label;
        expectKeyProbeNamesTheProblem(rig, attrs, *chooser, label);
        std::vector<std::vector<int64_t>> states;
        for (size_t t = 0; t < count; ++t) {
            ASSERT_TRUE(chooser->selectTactic(t).isOk()) << label << " tactic " << t;
            auto out = rig.run(**searching);
            ASSERT_TRUE(out.isOk()) << label << " tactic " << t << ": " << out.status().message();
            EXPECT_EQ(test::compareWithReference(*out, reference, kHalfRtol, atol), "")
                << label << " tactic " << t << " (" << (*searching)->tacticName() << ")";
            states.push_back(chooser->tacticState());
            EXPECT_FALSE(states.back().empty()) << label << " tactic " << t;
            for (size_t earlier = 0; earlier < t; ++earlier)
                EXPECT_NE(states[earlier], states.back()) << label << ": tactics " << earlier << " and " << t;
        }
        EXPECT_FALSE(chooser->selectTactic(count).isOk()) << label;

        // The engine's kernel: the chosen state (the last listed, so never the default by accident) is
        // used again, and only it is built.
        AttributeMap chosen = attrs;
        chosen.set(kTacticAttribute, states.back());
        auto replayed = rig.kernel(chosen);
        ASSERT_TRUE(replayed.isOk()) << label << ": " << replayed.status().message();
        auto* replayedChooser = dynamic_cast<TacticChooser*>(replayed->get());
        ASSERT_NE(replayedChooser, nullptr) << label;
        EXPECT_EQ(replayedChooser->tacticCount(), 1u) << label;
        EXPECT_EQ(replayedChooser->tacticState(), states.back()) << label;
        auto out = rig.run(**replayed);
        ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
        EXPECT_EQ(test::compareWithReference(*out, reference, kHalfRtol, atol), "") << label << " replayed";

        // A state cuDNN cannot rebuild (no such engine; malformed) falls back to the default plan.
        for (const std::vector<int64_t>& stale :
             {std::vector<int64_t>{states[0][0], 1 << 30}, std::vector<int64_t>{7}}) {
            AttributeMap staleAttrs = attrs;
            staleAttrs.set(kTacticAttribute, stale);
            auto fallback = rig.kernel(staleAttrs);
            ASSERT_TRUE(fallback.isOk()) << label << ": " << fallback.status().message();
            EXPECT_EQ(dynamic_cast<TacticChooser*>(fallback->get())->tacticState(), states[0]) << label;
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
