// Kiln's direct channels-last convolution (conv_direct_nhwc.h), a tactic of the CUDA FusedConv beside
// cuDNN's plans: forced through kTacticAttribute, it must match the CPU backend's NCHW Conv (epilogue
// added in double, result in NHWC order) in float, float16 and bfloat16, for depthwise convolutions
// (vectors of 8/4 channels and single ones; weights staged in shared memory or, past 48 KiB, read from
// global memory), depthwise multipliers, RGB stems and small groups, with
// strides, asymmetric pads, dilations, a float bias on narrow data, residuals and activations. The
// builder's trial kernel lists it last among the tactics; a layer it does not apply to keeps cuDNN.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "conv_nhwc_reference.h"
#include "cuda_test_support.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cudatest {
namespace {

using CudaConvDirectNhwcTest = CudaTest;

/// The direct kernel's tactic states (conv.cpp's kDirectKernelTactic and kDirectWideKernelTactic).
const std::vector<int64_t> kDirectTactic = {2};
const std::vector<int64_t> kDirectWideTactic = {3};

struct DirectCase {
    const char* label;
    Shape x;  // N C H W (the reference's layout; the GPU gets it transposed)
    Shape w;  // K C/g R S
    int64_t group;
    std::vector<int64_t> strides, pads, dilations;
    bool bias, floatBias, residual;
    const char* activation;  // nullptr: none
    std::vector<float> params;
};

std::vector<DirectCase> directCases() {
    return {
        {"depthwise 3x3", {2, 32, 9, 10}, {32, 1, 3, 3}, 32, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, false, false, "Relu", {}},
        {"depthwise stride 2 ReLU6", {1, 24, 11, 12}, {24, 1, 3, 3}, 24, {2, 2}, {0, 1, 1, 0}, {1, 1}, true, true, false,
         "Clip", {0.f, 6.f}},
        {"depthwise 5x5 dilated residual", {2, 12, 13, 11}, {12, 1, 5, 5}, 12, {1, 1}, {4, 4, 4, 4}, {2, 2}, true, false,
         true, "HardSwish", {}},
        {"depthwise odd channels", {1, 13, 7, 8}, {13, 1, 3, 3}, 13, {1, 2}, {1, 1, 1, 1}, {1, 1}, false, false, true,
         nullptr, {}},
        {"depthwise multiplier 2", {2, 8, 9, 9}, {16, 1, 3, 3}, 8, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, false, false,
         "Sigmoid", {}},
        {"RGB stem 3x3", {2, 3, 17, 15}, {16, 3, 3, 3}, 1, {2, 2}, {1, 1, 1, 1}, {1, 1}, true, true, false, "Clip",
         {0.f, 6.f}},
        {"RGB stem 7x7", {1, 3, 23, 21}, {8, 3, 7, 7}, 1, {2, 2}, {3, 3, 3, 3}, {1, 1}, true, false, false, "Relu", {}},
        // 256 x 7 x 7 float weights pass the 48 KiB a block stages: read from global memory instead.
        {"depthwise 7x7 unstaged", {1, 256, 9, 8}, {256, 1, 7, 7}, 256, {1, 1}, {3, 3, 3, 3}, {1, 1}, true, false, false,
         "Relu", {}},
        {"four channels per group", {1, 16, 8, 9}, {32, 4, 3, 3}, 4, {1, 1}, {1, 0, 1, 0}, {1, 1}, true, false, true,
         "LeakyRelu", {0.1f}},
    };
}

AttributeMap windowAttrs(const DirectCase& c) {
    AttributeMap attrs;
    attrs.set("group", c.group);
    attrs.set("strides", c.strides);
    attrs.set("pads", c.pads);
    attrs.set("dilations", c.dilations);
    return attrs;
}

PreparedConv prepare(const DirectCase& c, DataType type, uint32_t& seed) {
    PreparedConv p;
    p.bias = c.bias;
    p.residual = c.residual;
    Tensor x = test::randomTensor(type, c.x, -1.0, 1.0, seed++);
    Tensor w = test::randomTensor(type, c.w, -1.0, 1.0, seed++);
    const Tensor xf = convertTensor(x, DataType::kFLOAT);
    const Tensor wf = convertTensor(w, DataType::kFLOAT);
    std::vector<Tensor> conv = cpuReference("Conv", {&xf, &wf}, 1, windowAttrs(c));
    EXPECT_EQ(conv.size(), 1u) << c.label;
    if (conv.size() != 1) return p;
    const Shape yShape = conv[0].shape();  // N K OH OW
    if (c.bias) p.b = test::randomTensor(c.floatBias ? DataType::kFLOAT : type, {c.w[0]}, -1.0, 1.0, seed++);
    Tensor z = c.residual ? test::randomTensor(type, yShape, -1.0, 1.0, seed++) : Tensor();
    std::vector<double> reference = conv[0].toDoubleVector();
    const int64_t inner = yShape[2] * yShape[3];
    for (size_t i = 0; i < reference.size(); ++i) {
        double v = reference[i];
        if (c.bias) v += p.b.elementAsDouble(static_cast<int64_t>(i) / inner % yShape[1]);
        if (c.residual) v += z.elementAsDouble(static_cast<int64_t>(i));
        reference[i] = activate(c.activation, c.params, v);
    }
    p.reference = channelsLastValues(reference, yShape);
    p.x = channelsLast(x);
    p.w = channelsLast(w);
    if (c.residual) p.z = channelsLast(z);
    p.y = {yShape[0], yShape[2], yShape[3], yShape[1]};
    p.attrs = windowAttrs(c);
    p.attrs.set(kChannelsLastAttribute, int64_t{1});
    p.attrs.set(kAllowTf32Attribute, int64_t{0});
    if (c.activation) p.attrs.set("activation", std::string(c.activation));
    if (!c.params.empty()) p.attrs.set("activation_params", c.params);
    return p;
}

TEST_F(CudaConvDirectNhwcTest, ChosenDirectKernelMatchesNchwReference) {
    uint32_t seed = 12000;
    // Both forms: one output pixel a thread, and four (rows whose width is not a multiple of four end
    // in a short group).
    for (bool wide : {false, true})
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
        for (const DirectCase& c : directCases()) {
            const std::string label = std::string(dataTypeName(type)) + " " + c.label + (wide ? " x4" : "");
            PreparedConv p = prepare(c, type, seed);
            ASSERT_FALSE(p.reference.empty()) << label;
            AttributeMap attrs = p.attrs;
            attrs.set(kTacticAttribute, wide ? kDirectWideTactic : kDirectTactic);
            auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", p.inputs(), {type}, {p.y}, attrs, "kiln");
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_EQ(gpu->tactic, std::string("cuda.direct_conv_nhwc_") + (wide ? "x4_" : "") +
                                       dataTypeShortName(type))
                << label;
            const double taps = static_cast<double>(c.w[1] * c.w[2] * c.w[3]);
            const double tol = convRelativeTolerance(type);
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], p.reference, tol, tol * std::sqrt(taps)), "")
                << label << " (tactic " << gpu->tactic << ")";
        }
    }
}

TEST_F(CudaConvDirectNhwcTest, TrialKernelListsItAfterCudnnPlans) {
    uint32_t seed = 13000;
    const DirectCase c = directCases()[0];
    PreparedConv p = prepare(c, DataType::kHALF, seed);
    AttributeMap search = p.attrs;
    search.set(kTacticSearchAttribute, int64_t{4});
    // The trial kernel through the runner: run with its last tactic selected before the run.
    Graph graph;
    std::vector<Value*> ins;
    for (const Tensor* t : p.inputs())
        ins.push_back(t ? graph.addInput("in" + std::to_string(ins.size()), t->dtype(), fromConcrete(t->shape()))
                        : nullptr);
    Node* node = graph.addNode("FusedConv", "node", ins, {}, 1);
    node->domain = "kiln";
    node->attrs = search;
    node->outputs[0]->dtype = DataType::kHALF;
    node->outputs[0]->shape = fromConcrete(p.y);
    node->outputs[0]->typeKnown = true;
    auto kernel = mBackend->createKernel(*node);
    ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
    std::vector<TensorView> views;
    for (const Tensor* t : p.inputs()) views.push_back(t ? TensorView{t->dtype(), t->shape(), nullptr} : TensorView{});
    ASSERT_TRUE((*kernel)->reshape(views, {TensorView{DataType::kHALF, p.y, nullptr}}).isOk());
    auto* chooser = dynamic_cast<TacticChooser*>(kernel->get());
    ASSERT_NE(chooser, nullptr);
    const size_t count = chooser->tacticCount();
    ASSERT_GE(count, 3u) << "cuDNN's plans and the direct kernel's two forms";
    ASSERT_TRUE(chooser->selectTactic(count - 2).isOk());
    EXPECT_EQ(chooser->tacticState(), kDirectTactic);
    EXPECT_EQ((*kernel)->tacticName(), "cuda.direct_conv_nhwc_f16");
    ASSERT_TRUE(chooser->selectTactic(count - 1).isOk());
    EXPECT_EQ(chooser->tacticState(), kDirectWideTactic);
    EXPECT_EQ((*kernel)->tacticName(), "cuda.direct_conv_nhwc_x4_f16");
    EXPECT_EQ((*kernel)->workspaceSize(), 0u);
    ASSERT_TRUE(chooser->selectTactic(0).isOk());
    EXPECT_NE(chooser->tacticState(), kDirectTactic);
    EXPECT_NE((*kernel)->tacticName().find("cudnn"), std::string::npos) << (*kernel)->tacticName();
}

TEST_F(CudaConvDirectNhwcTest, ALayerWithManyChannelsPerGroupKeepsCudnn) {
    uint32_t seed = 14000;
    const DirectCase c = {"dense 3x3", {1, 16, 8, 8}, {16, 16, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, false, false,
                          "Relu", {}};
    PreparedConv p = prepare(c, DataType::kHALF, seed);
    AttributeMap attrs = p.attrs;
    attrs.set(kTacticAttribute, kDirectTactic);  // a stale choice: the direct kernel does not apply here
    auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", p.inputs(), {DataType::kHALF}, {p.y}, attrs, "kiln");
    ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
    EXPECT_NE(gpu->tactic.find("cudnn"), std::string::npos) << gpu->tactic;
    EXPECT_EQ(test::compareWithReference(gpu->outputs[0], p.reference, 2e-3, 2e-3 * 12), "") << gpu->tactic;
}

}  // namespace
}  // namespace kiln::cudatest
