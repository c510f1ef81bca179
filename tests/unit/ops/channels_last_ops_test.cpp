// The channels-last layers (ir/ops/layout_attributes.h): shape inference of kiln::FusedConv with
// kiln_channels_last = 1 and of kiln::ChannelsLastPool, and their CPU kernels against the NCHW CPU
// kernels run on the same data transposed (the NCHW kernels have their own double-precision tests).

#include <gtest/gtest.h>

#include <cstring>

#include "ir/ops/layout_attributes.h"
#include "ir/shape_inference.h"
#include "test_support.h"

namespace kiln::test {
namespace {

/// `t` (rank 4) with its axes in the order `perm`, written independently of the kernels' transposes.
Tensor permuted(const Tensor& t, const std::vector<size_t>& perm) {
    const Shape& s = t.shape();
    Shape out{s[perm[0]], s[perm[1]], s[perm[2]], s[perm[3]]};
    Tensor result = Tensor::allocate(t.dtype(), out);
    const size_t bytes = dataTypeSize(t.dtype());
    const Shape strides{s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
    const auto* src = static_cast<const uint8_t*>(t.data());
    auto* dst = static_cast<uint8_t*>(result.data());
    int64_t i = 0;
    for (int64_t a = 0; a < out[0]; ++a)
        for (int64_t b = 0; b < out[1]; ++b)
            for (int64_t c = 0; c < out[2]; ++c)
                for (int64_t d = 0; d < out[3]; ++d, ++i) {
                    const int64_t from = a * strides[perm[0]] + b * strides[perm[1]] + c * strides[perm[2]] +
                                         d * strides[perm[3]];
                    std::memcpy(dst + i * bytes, src + from * bytes, bytes);
                }
    return result;
}

Tensor toNhwc(const Tensor& t) { return permuted(t, {0, 2, 3, 1}); }
Tensor toNchw(const Tensor& t) { return permuted(t, {0, 3, 1, 2}); }

/// The inferred shape of output 0 of a one-node graph over inputs of `shapes`, or the inference error.
Expected<std::string> inferredShape(const std::string& op, const std::vector<SymShape>& shapes, const AttributeMap& attrs,
                                    DataType type = DataType::kFLOAT) {
    Graph g;
    std::vector<Value*> ins;
    for (size_t i = 0; i < shapes.size(); ++i)
        ins.push_back(shapes[i].empty() ? nullptr : g.addInput("in" + std::to_string(i), type, shapes[i]));
    Node* node = g.addNode(op, "node", ins, {"y"}, 1);
    node->domain = "kiln";
    node->attrs = attrs;
    g.markOutput(node->outputs[0]);
    KILN_RETURN_IF_ERROR(inferGraphShapes(g, ShapeInferenceOptions{}));
    return symShapeToString(node->outputs[0]->shape);
}

AttributeMap convAttributes(int64_t group, int64_t stride, int64_t pad) {
    AttributeMap attrs;
    attrs.set(kChannelsLastAttribute, int64_t{1});
    attrs.set("group", group);
    attrs.set("strides", std::vector<int64_t>{stride, stride});
    attrs.set("pads", std::vector<int64_t>{pad, pad, pad, pad});
    return attrs;
}

TEST(ChannelsLastInference, FusedConvInfersOverTheNchwViewAndAnswersInNhwc) {
    AttributeMap attrs = convAttributes(2, 2, 1);
    auto shape = inferredShape("FusedConv", {{Dim::named("N"), 9, 10, 6}, {8, 3, 3, 3}, {8}}, attrs);
    ASSERT_TRUE(shape.isOk()) << shape.status().message();
    EXPECT_EQ(*shape, "(N, 5, 5, 8)");
    auto withResidual = inferredShape("FusedConv", {{2, 9, 10, 6}, {8, 3, 3, 3}, {8}, {2, 5, 5, 8}}, attrs);
    ASSERT_TRUE(withResidual.isOk()) << withResidual.status().message();
    EXPECT_EQ(*withResidual, "(2, 5, 5, 8)");
}

TEST(ChannelsLastInference, FusedConvRefusesWrongRanksAndResiduals) {
    AttributeMap attrs = convAttributes(1, 1, 0);
    auto oneD = inferredShape("FusedConv", {{2, 10, 6}, {8, 3, 6}}, attrs);
    ASSERT_FALSE(oneD.isOk());
    EXPECT_NE(oneD.status().message().find("rank-4 X"), std::string::npos) << oneD.status().message();
    auto residual = inferredShape("FusedConv", {{2, 9, 9, 6}, {8, 1, 1, 6}, {}, {2, 9, 9, 6}}, attrs);
    ASSERT_FALSE(residual.isOk());
    EXPECT_NE(residual.status().message().find("residual"), std::string::npos) << residual.status().message();
    // Channels that do not match the weights' C/group (NHWC's last axis, not axis 1).
    EXPECT_FALSE(inferredShape("FusedConv", {{2, 6, 9, 9}, {8, 1, 1, 6}}, attrs).isOk());
}

TEST(ChannelsLastInference, ChannelsLastPoolInfersAsTheNamedPool) {
    AttributeMap attrs;
    attrs.set(kChannelsLastPoolAttribute, std::string("MaxPool"));
    attrs.set("kernel_shape", std::vector<int64_t>{3, 2});
    attrs.set("strides", std::vector<int64_t>{2, 2});
    attrs.set("ceil_mode", int64_t{1});
    auto maxShape = inferredShape("ChannelsLastPool", {{Dim::named("N"), 8, 7, 5}}, attrs);
    ASSERT_TRUE(maxShape.isOk()) << maxShape.status().message();
    EXPECT_EQ(*maxShape, "(N, 4, 4, 5)");
    attrs.set(kChannelsLastPoolAttribute, std::string("AveragePool"));
    attrs.set("pads", std::vector<int64_t>{1, 0, 1, 0});
    auto avgShape = inferredShape("ChannelsLastPool", {{1, 8, 7, 5}}, attrs);
    ASSERT_TRUE(avgShape.isOk()) << avgShape.status().message();
    EXPECT_EQ(*avgShape, "(1, 5, 4, 5)");
}

TEST(ChannelsLastInference, ChannelsLastPoolRefusesOtherPoolsAndRanks) {
    AttributeMap attrs;
    attrs.set("kernel_shape", std::vector<int64_t>{2, 2});
    EXPECT_FALSE(inferredShape("ChannelsLastPool", {{1, 4, 4, 3}}, attrs).isOk());  // no `pool`
    attrs.set(kChannelsLastPoolAttribute, std::string("LpPool"));
    auto lp = inferredShape("ChannelsLastPool", {{1, 4, 4, 3}}, attrs);
    ASSERT_FALSE(lp.isOk());
    EXPECT_NE(lp.status().message().find("LpPool"), std::string::npos) << lp.status().message();
    attrs.set(kChannelsLastPoolAttribute, std::string("MaxPool"));
    attrs.set("kernel_shape", std::vector<int64_t>{2, 2, 2});
    EXPECT_FALSE(inferredShape("ChannelsLastPool", {{1, 4, 4, 4, 3}}, attrs).isOk());
}

TEST(ChannelsLastCpuKernels, FusedConvMatchesTheNchwKernel) {
    struct Case {
        Shape x, w;
        int64_t group, stride, pad;
        bool residual;
        std::string activation;
    };
    const std::vector<Case> cases = {
        {{2, 3, 9, 8}, {8, 3, 3, 3}, 1, 1, 1, true, "Relu"},
        {{1, 6, 11, 7}, {6, 1, 3, 3}, 6, 2, 1, false, ""},  // depthwise
        {{2, 4, 5, 5}, {6, 2, 1, 1}, 2, 1, 0, true, "Sigmoid"},
    };
    uint32_t seed = 1;
    for (const Case& c : cases) {
        Tensor x = randomTensor(DataType::kFLOAT, c.x, -2, 2, seed++);
        Tensor w = randomTensor(DataType::kFLOAT, c.w, -1, 1, seed++);
        Tensor b = randomTensor(DataType::kFLOAT, {c.w[0]}, -1, 1, seed++);
        AttributeMap nchwAttrs = convAttributes(c.group, c.stride, c.pad);
        nchwAttrs.erase(kChannelsLastAttribute);
        if (!c.activation.empty()) nchwAttrs.set("activation", c.activation);
        SingleNodeRun plain = runSingleNode("FusedConv", {&x, &w, &b}, 1, nchwAttrs, "kiln");
        ASSERT_TRUE(plain.status.isOk()) << plain.status.message();
        Tensor z = randomTensor(DataType::kFLOAT, plain.outputs[0].shape(), -1, 1, seed++);
        std::vector<const Tensor*> nchwInputs = {&x, &w, &b};
        if (c.residual) {
            nchwInputs.push_back(&z);
            plain = runSingleNode("FusedConv", nchwInputs, 1, nchwAttrs, "kiln");
            ASSERT_TRUE(plain.status.isOk()) << plain.status.message();
        }
        AttributeMap attrs = nchwAttrs;
        attrs.set(kChannelsLastAttribute, int64_t{1});
        Tensor xl = toNhwc(x), wl = toNhwc(w), zl = toNhwc(z);
        std::vector<const Tensor*> nhwcInputs = {&xl, &wl, &b};
        if (c.residual) nhwcInputs.push_back(&zl);
        SingleNodeRun nhwc = runSingleNode("FusedConv", nhwcInputs, 1, attrs, "kiln");
        ASSERT_TRUE(nhwc.status.isOk()) << nhwc.status.message();
        ASSERT_EQ(nhwc.outputs[0].shape(), toNhwc(plain.outputs[0]).shape());
        EXPECT_EQ(compareWithReference(toNchw(nhwc.outputs[0]), plain.outputs[0].toDoubleVector(), 1e-6, 1e-6), "")
            << shapeToString(c.x, true) << " group " << c.group;
    }
}

TEST(ChannelsLastCpuKernels, PoolsMatchTheNchwKernels) {
    uint32_t seed = 50;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        for (const std::string pool : {"MaxPool", "AveragePool"}) {
            for (int64_t variant = 0; variant < 2; ++variant) {
                Tensor x = randomTensor(type, {2, 5, 9, 8}, -3, 3, seed++);
                AttributeMap attrs;
                attrs.set("kernel_shape", std::vector<int64_t>{3, 2});
                attrs.set("strides", std::vector<int64_t>{2, 1 + variant});
                attrs.set("pads", std::vector<int64_t>{1, 0, variant, 1});
                attrs.set("ceil_mode", variant);
                if (pool == "AveragePool") attrs.set("count_include_pad", variant);
                if (pool == "MaxPool") attrs.set("dilations", std::vector<int64_t>{1, 1 + variant});
                SingleNodeRun plain = runSingleNode(pool, {&x}, 1, attrs);
                ASSERT_TRUE(plain.status.isOk()) << plain.status.message();
                attrs.set(kChannelsLastPoolAttribute, pool);
                Tensor xl = toNhwc(x);
                SingleNodeRun nhwc = runSingleNode("ChannelsLastPool", {&xl}, 1, attrs, "kiln");
                ASSERT_TRUE(nhwc.status.isOk()) << nhwc.status.message();
                ASSERT_EQ(nhwc.outputs[0].dtype(), type);
                EXPECT_EQ(compareWithReference(toNchw(nhwc.outputs[0]), plain.outputs[0].toDoubleVector(), 0, 0), "")
                    << pool << " " << dataTypeName(type) << " variant " << variant;
            }
        }
    }
}

}  // namespace
}  // namespace kiln::test
