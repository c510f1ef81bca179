// Fusion passes: each pattern as exporters write it becomes the fused layer, and the engine
// gives the same results with passes on and off.

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "common/half.h"
#include "pass_test_util.h"
#include "passes/attention_fusion.h"
#include "passes/conv_fusion.h"
#include "passes/gelu_fusion.h"
#include "passes/horizontal_fusion.h"
#include "passes/layer_norm_fusion.h"
#include "passes/layout_cancellation.h"
#include "passes/matmul_fusion.h"
#include "passes/pattern_utils.h"
#include "passes/rms_norm_fusion.h"

namespace kiln::test {
namespace {

using FusionTest = NetworkTest;

TEST_F(FusionTest, GeluInBothAssociations) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 8});
    // torch.nn.GELU: (x * (1 + erf(x / sqrt2))) * 0.5
    ITensor* t = op("Add", {op("Erf", {op("Div", {x, scalar(std::sqrt(2.f))})}), scalar(1.f)});
    ITensor* a = op("Mul", {op("Mul", {x, t}), scalar(0.5f)});
    // Hugging Face: (x * 0.5) * (1 + erf(x * (1 / sqrt2)))
    ITensor* u = op("Add", {op("Erf", {op("Mul", {a, scalar(0.70710678f)})}), scalar(1.f)});
    ITensor* b = op("Mul", {op("Mul", {a, scalar(0.5f)}), u});
    net->markOutput(*b);
    GeluFusion pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Gelu"), 2u);
    EXPECT_EQ(g->nodes().size(), 2u);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {3, 8}, -3, 3, 1)}});
}

// GPT-2's gelu_new (and torch's approximate="tanh" before opset 20): 0.5 * x * (1 + tanh(sqrt(2/pi) *
// (x + 0.044715 * x^3))), with x^3 as Pow(x, 3) or as products, in both associations of the last products.
// A different cubic coefficient is another function and stays as it is.
TEST_F(FusionTest, TanhGeluBecomesGeluTanh) {
    for (int form = 0; form < 4; ++form) {
        auto network = builder->createNetwork();
        std::swap(net, network);
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 8});
        const bool powCube = form % 2 == 0, xTimesFirst = form < 2;
        ITensor* cube = powCube ? op("Pow", {x, scalar(3.f)}) : op("Mul", {x, op("Mul", {x, x})});
        ITensor* inner = op("Add", {x, op("Mul", {scalar(0.044715f), cube})});
        ITensor* t = op("Add", {op("Tanh", {op("Mul", {inner, scalar(0.7978845608f)})}), scalar(1.f)});
        ITensor* y = xTimesFirst ? op("Mul", {op("Mul", {x, t}), scalar(0.5f)}) : op("Mul", {op("Mul", {x, scalar(0.5f)}), t});
        net->markOutput(*y);
        GeluFusion pass;
        auto g = runPass(net->graph(), pass);
        const std::string label = "form " + std::to_string(form);
        ASSERT_EQ(g->nodes().size(), 1u) << label;
        EXPECT_EQ(g->nodes()[0]->opType, "Gelu") << label;
        EXPECT_EQ(g->nodes()[0]->attrs.getString("approximate", "none"), "tanh") << label;
        expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {3, 8}, -4, 4, 30)}},
                                              1e-5, 1e-6);
    }
    auto network = builder->createNetwork();
    std::swap(net, network);
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 8});
    ITensor* inner = op("Add", {x, op("Mul", {scalar(0.05f), op("Pow", {x, scalar(3.f)})})});
    ITensor* t = op("Add", {op("Tanh", {op("Mul", {inner, scalar(0.7978845608f)})}), scalar(1.f)});
    net->markOutput(*op("Mul", {op("Mul", {x, t}), scalar(0.5f)}));
    GeluFusion pass;
    EXPECT_EQ(countOps(*runPass(net->graph(), pass), "Gelu"), 0u);
}

TEST_F(FusionTest, GeluOfAFloat16ModelMatchesItsRoundedConstants) {
    // A model exported in float16 holds sqrt(2) as 1.4140625: that is sqrt(2) at its precision. A constant
    // more than half a float16 unit away (1.4150390625, the next float16 up) is another function.
    auto half = [&](float v) {
        const uint16_t bits = floatToHalfBits(v);
        return net->addConstant(Dims{}, DataType::kHALF, &bits);
    };
    for (float divisor : {std::sqrt(2.f), 1.4150390625f}) {
        net = builder->createNetwork();
        ITensor* x = net->addInput("x", DataType::kHALF, Dims{3, 8});
        ITensor* t = op("Add", {op("Erf", {op("Div", {x, half(divisor)})}), half(1.f)});
        net->markOutput(*op("Mul", {op("Mul", {x, t}), half(0.5f)}));
        GeluFusion pass;
        auto g = runPass(net->graph(), pass);
        EXPECT_EQ(countOps(*g, "Gelu"), divisor == 1.4150390625f ? 0u : 1u) << divisor;
    }
}

TEST_F(FusionTest, LayerNormWrittenOut) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
    LayerAttributes keep;
    keep.setInt("keepdims", 1);
    ITensor* mean = op("ReduceMean", {x, ints({-1})}, keep);
    ITensor* d = op("Sub", {x, mean});
    ITensor* var = op("ReduceMean", {op("Pow", {d, scalar(2.f)}), ints({-1})}, keep);
    ITensor* n = op("Div", {d, op("Sqrt", {op("Add", {var, scalar(1e-5f)})})});
    ITensor* y = op("Add", {op("Mul", {n, constant(randomTensor(DataType::kFLOAT, {16}, 0.5, 1.5, 2))}),
                            constant(randomTensor(DataType::kFLOAT, {16}, -1, 1, 3))});
    net->markOutput(*y);
    LayerNormFusion pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    EXPECT_EQ(g->nodes()[0]->opType, "LayerNormalization");
    EXPECT_EQ(g->nodes()[0]->attrs.getInt("axis", 0), 2);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {2, 5, 16}, -2, 2, 4)}},
                                          1e-4, 1e-5);
}

// RMSNorm as LLaMA and T5 export it: x * rsqrt(mean(x^2) + eps) * gamma, rsqrt as Reciprocal(Sqrt), as
// 1 / Sqrt or as a Div by the Sqrt; x^2 as Pow or x * x; with gamma and without.
TEST_F(FusionTest, RmsNormWrittenOut) {
    for (int form = 0; form < 4; ++form) {
        auto network = builder->createNetwork();
        std::swap(net, network);
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
        LayerAttributes keep;
        keep.setInt("keepdims", 1);
        ITensor* square = form == 1 ? op("Mul", {x, x}) : op("Pow", {x, scalar(2.f)});
        ITensor* root = op("Sqrt", {op("Add", {op("ReduceMean", {square, ints({-1})}, keep), scalar(1e-6f)})});
        ITensor* normalized = form == 0   ? op("Mul", {x, op("Reciprocal", {root})})
                              : form == 1 ? op("Div", {x, root})
                                          : op("Mul", {op("Div", {scalar(1.f), root}), x});
        const bool withGamma = form != 3;
        ITensor* y = withGamma
                         ? op("Mul", {constant(randomTensor(DataType::kFLOAT, {16}, 0.5, 1.5, 40)), normalized})
                         : normalized;
        net->markOutput(*y);
        RmsNormFusion pass;
        auto g = runPass(net->graph(), pass);
        const std::string label = "form " + std::to_string(form);
        ASSERT_EQ(countOps(*g, "RMSNormalization"), 1u) << label;
        EXPECT_EQ(g->nodes().size(), 1u) << label;
        EXPECT_EQ(g->nodes()[0]->attrs.getInt("axis", 0), 2) << label;
        expectSameResultsWithAndWithoutPasses(*builder, *net,
                                              {{"x", randomTensor(DataType::kFLOAT, {2, 5, 16}, -2, 2, 41)}}, 1e-5, 1e-6);
    }
}

TEST_F(FusionTest, ScaledDotProductAttentionWithMask) {
    ITensor* q = net->addInput("q", DataType::kFLOAT, Dims{2, 3, 7, 8});
    ITensor* k = net->addInput("k", DataType::kFLOAT, Dims{2, 3, 7, 8});
    ITensor* v = net->addInput("v", DataType::kFLOAT, Dims{2, 3, 7, 8});
    ITensor* mask = net->addInput("mask", DataType::kFLOAT, Dims{2, 1, 1, 7});
    LayerAttributes swapLast;
    swapLast.setInts("perm", {0, 1, 3, 2});
    ITensor* scores = op("Div", {op("MatMul", {q, op("Transpose", {k}, swapLast)}), scalar(std::sqrt(8.f))});
    LayerAttributes lastAxis;
    lastAxis.setInt("axis", -1);
    ITensor* probs = op("Softmax", {op("Add", {scores, mask})}, lastAxis);
    ITensor* y = op("MatMul", {probs, v});
    net->markOutput(*y);
    AttentionFusion pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    EXPECT_EQ(g->nodes()[0]->opType, "Attention");
    Tensor maskValues = randomTensor(DataType::kFLOAT, {2, 1, 1, 7}, 0, 1, 5);
    for (int64_t i = 0; i < maskValues.elementCount(); ++i)
        maskValues.data<float>()[i] = maskValues.data<float>()[i] > 0.7f ? -10000.f : 0.f;
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"q", randomTensor(DataType::kFLOAT, {2, 3, 7, 8}, -1, 1, 6)},
                                           {"k", randomTensor(DataType::kFLOAT, {2, 3, 7, 8}, -1, 1, 7)},
                                           {"v", randomTensor(DataType::kFLOAT, {2, 3, 7, 8}, -1, 1, 8)},
                                           {"mask", maskValues}},
                                          1e-4, 1e-5);
}

// torch's MultiheadAttention before 2.0 (and other bmm-based exporters): heads folded into the batch, 3-D
// [batch * heads, seq, head] operands, Q divided by sqrt(head) before the product; with a [S_q, S_kv] mask
// and without. It becomes Attention's 3-D form with one head. A 3-D mask (one per batch * heads) would
// not right-align to Attention's (batch, heads, queries, keys), so that chain stays as it is.
TEST_F(FusionTest, BatchedThreeDimensionalAttentionWithADividedQuery) {
    for (int maskRank : {0, 2, 3}) {
        auto network = builder->createNetwork();
        std::swap(net, network);
        ITensor* q = net->addInput("q", DataType::kFLOAT, Dims{6, 7, 8});
        ITensor* k = net->addInput("k", DataType::kFLOAT, Dims{6, 9, 8});
        ITensor* v = net->addInput("v", DataType::kFLOAT, Dims{6, 9, 8});
        const Dims maskDims = maskRank == 2 ? Dims{7, 9} : Dims{6, 7, 9};
        ITensor* mask = maskRank ? net->addInput("mask", DataType::kFLOAT, maskDims) : nullptr;
        LayerAttributes swapLast;
        swapLast.setInts("perm", {0, 2, 1});
        ITensor* scores = op("MatMul", {op("Div", {q, scalar(std::sqrt(8.f))}), op("Transpose", {k}, swapLast)});
        if (mask) scores = op("Add", {scores, mask});
        LayerAttributes lastAxis;
        lastAxis.setInt("axis", -1);
        net->markOutput(*op("MatMul", {op("Softmax", {scores}, lastAxis), v}));
        AttentionFusion pass;
        auto g = runPass(net->graph(), pass);
        const std::string label = "mask rank " + std::to_string(maskRank);
        if (maskRank == 3) {
            EXPECT_EQ(countOps(*g, "Attention"), 0u) << label;
            continue;
        }
        ASSERT_EQ(g->nodes().size(), 1u) << label;
        const Node& attention = *g->nodes()[0];
        EXPECT_EQ(attention.opType, "Attention") << label;
        EXPECT_EQ(attention.attrs.getInt("q_num_heads", 0), 1) << label;
        EXPECT_EQ(attention.attrs.getInt("kv_num_heads", 0), 1) << label;
        EXPECT_NEAR(attention.attrs.getFloat("scale").value_or(0.f), 1.f / std::sqrt(8.f), 1e-6) << label;
        std::map<std::string, Tensor> feeds = {{"q", randomTensor(DataType::kFLOAT, {6, 7, 8}, -1, 1, 16)},
                                               {"k", randomTensor(DataType::kFLOAT, {6, 9, 8}, -1, 1, 17)},
                                               {"v", randomTensor(DataType::kFLOAT, {6, 9, 8}, -1, 1, 18)}};
        if (mask) feeds["mask"] = randomTensor(DataType::kFLOAT, {7, 9}, -2, 0, 19);
        expectSameResultsWithAndWithoutPasses(*builder, *net, feeds, 1e-4, 1e-5);
    }
}

// torch's scaled_dot_product_attention export: Q * sqrt(scale) and K^T * sqrt(scale) (one test scales K
// before its transpose), no scaling of the scores.
TEST_F(FusionTest, QueryAndKeyScalingsFoldIntoTheScale) {
    for (bool scaleBeforeTranspose : {false, true}) {
        auto network = builder->createNetwork();
        std::swap(net, network);
        ITensor* q = net->addInput("q", DataType::kFLOAT, Dims{2, 3, 6, 8});
        ITensor* k = net->addInput("k", DataType::kFLOAT, Dims{2, 3, 6, 8});
        ITensor* v = net->addInput("v", DataType::kFLOAT, Dims{2, 3, 6, 8});
        LayerAttributes swapLast;
        swapLast.setInts("perm", {0, 1, 3, 2});
        const float rootScale = std::sqrt(1.f / std::sqrt(8.f));
        ITensor* keysT = scaleBeforeTranspose ? op("Transpose", {op("Mul", {k, scalar(rootScale)})}, swapLast)
                                              : op("Mul", {op("Transpose", {k}, swapLast), scalar(rootScale)});
        ITensor* scores = op("MatMul", {op("Mul", {scalar(rootScale), q}), keysT});
        net->markOutput(*op("MatMul", {op("Softmax", {scores}), v}));
        AttentionFusion pass;
        auto g = runPass(net->graph(), pass);
        ASSERT_EQ(g->nodes().size(), 1u) << "scale before transpose: " << scaleBeforeTranspose;
        EXPECT_EQ(g->nodes()[0]->opType, "Attention");
        EXPECT_NEAR(g->nodes()[0]->attrs.getFloat("scale").value_or(0.f), 1.f / std::sqrt(8.f), 1e-6);
        expectSameResultsWithAndWithoutPasses(*builder, *net,
                                              {{"q", randomTensor(DataType::kFLOAT, {2, 3, 6, 8}, -1, 1, 30)},
                                               {"k", randomTensor(DataType::kFLOAT, {2, 3, 6, 8}, -1, 1, 31)},
                                               {"v", randomTensor(DataType::kFLOAT, {2, 3, 6, 8}, -1, 1, 32)}},
                                              1e-4, 1e-5);
    }
}

TEST_F(FusionTest, AScalingThatBroadcastsTheQueryStaysOutside) {
    // Q [3, 6, 8] * a [1, 1, 1, 1] constant is a 4-D query: the Mul cannot fold away (Q itself is 3-D).
    ITensor* q = net->addInput("q", DataType::kFLOAT, Dims{3, 6, 8});
    ITensor* k = net->addInput("k", DataType::kFLOAT, Dims{1, 3, 6, 8});
    ITensor* v = net->addInput("v", DataType::kFLOAT, Dims{1, 3, 6, 8});
    LayerAttributes swapLast;
    swapLast.setInts("perm", {0, 1, 3, 2});
    const float half = 0.5f;
    ITensor* broadcastScale = net->addConstant(Dims{1, 1, 1, 1}, DataType::kFLOAT, &half);
    ITensor* scores = op("MatMul", {op("Mul", {q, broadcastScale}), op("Transpose", {k}, swapLast)});
    net->markOutput(*op("MatMul", {op("Softmax", {scores}), v}));
    AttentionFusion pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(countOps(*g, "Attention"), 1u);
    EXPECT_EQ(countOps(*g, "Mul"), 1u);  // kept: the Attention reads its 4-D output
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"q", randomTensor(DataType::kFLOAT, {3, 6, 8}, -1, 1, 33)},
                                           {"k", randomTensor(DataType::kFLOAT, {1, 3, 6, 8}, -1, 1, 34)},
                                           {"v", randomTensor(DataType::kFLOAT, {1, 3, 6, 8}, -1, 1, 35)}},
                                          1e-4, 1e-5);
}

TEST_F(FusionTest, AMaskBroadcastAlongTheKeysStaysUnfused) {
    // Add broadcasts a one-key mask over every key; Attention would pad it as masked instead.
    ITensor* q = net->addInput("q", DataType::kFLOAT, Dims{1, 2, 5, 4});
    ITensor* k = net->addInput("k", DataType::kFLOAT, Dims{1, 2, 5, 4});
    ITensor* v = net->addInput("v", DataType::kFLOAT, Dims{1, 2, 5, 4});
    ITensor* mask = net->addInput("mask", DataType::kFLOAT, Dims{1, 1, 5, 1});
    LayerAttributes swapLast;
    swapLast.setInts("perm", {0, 1, 3, 2});
    ITensor* scores = op("Mul", {op("MatMul", {q, op("Transpose", {k}, swapLast)}), scalar(0.5f)});
    ITensor* y = op("MatMul", {op("Softmax", {op("Add", {scores, mask})}), v});
    net->markOutput(*y);
    AttentionFusion pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Attention"), 0u);
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"q", randomTensor(DataType::kFLOAT, {1, 2, 5, 4}, -1, 1, 20)},
                                           {"k", randomTensor(DataType::kFLOAT, {1, 2, 5, 4}, -1, 1, 21)},
                                           {"v", randomTensor(DataType::kFLOAT, {1, 2, 5, 4}, -1, 1, 22)},
                                           {"mask", randomTensor(DataType::kFLOAT, {1, 1, 5, 1}, -2, 0, 23)}},
                                          1e-4, 1e-5);
}

TEST_F(FusionTest, ConvWithResidualAndRelu) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 4, 6, 6});
    ITensor* w = constant(randomTensor(DataType::kFLOAT, {4, 4, 3, 3}, -0.5, 0.5, 9));
    ITensor* b = constant(randomTensor(DataType::kFLOAT, {4}, -0.5, 0.5, 10));
    ITensor* c = net->addConvolution(*x, *w, b, {1, 1}, {1, 1, 1, 1})->getOutput(0);
    ITensor* y = op("Relu", {op("Add", {c, x})});
    ITensor* w2 = constant(randomTensor(DataType::kFLOAT, {2, 4, 1, 1}, -0.5, 0.5, 11));
    ITensor* z = op("Clip", {net->addConvolution(*y, *w2, nullptr, {1, 1}, {0, 0, 0, 0})->getOutput(0), scalar(0.f), scalar(6.f)});
    net->markOutput(*z);
    ConvFusion pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "FusedConv"), 2u);
    EXPECT_EQ(g->nodes().size(), 2u);
    EXPECT_EQ(g->nodes()[0]->inputs.size(), 4u);  // X, W, B, residual
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {1, 4, 6, 6}, -1, 1, 12)}},
                                          1e-5, 1e-5);
}

TEST_F(FusionTest, TwoConvsSharingOneResidualAddFuseItOnce) {
    // ResNet's downsample block: Add(conv_main, conv_shortcut). Only one Conv may take the Add.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 4, 6, 6});
    ITensor* main = net->addConvolution(*x, *constant(randomTensor(DataType::kFLOAT, {8, 4, 3, 3}, -0.5, 0.5, 40)),
                                        nullptr, {1, 1}, {1, 1, 1, 1})->getOutput(0);
    ITensor* shortcut = net->addConvolution(*x, *constant(randomTensor(DataType::kFLOAT, {8, 4, 1, 1}, -0.5, 0.5, 41)),
                                            nullptr, {1, 1}, {0, 0, 0, 0})->getOutput(0);
    ITensor* y = op("Relu", {op("Add", {main, shortcut})});
    net->markOutput(*y);
    ConvFusion pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Add"), 0u);
    EXPECT_EQ(countOps(*g, "Relu"), 0u);
    EXPECT_EQ(countOps(*g, "FusedConv") + countOps(*g, "Conv"), 2u);
    size_t withResidual = 0;
    for (const auto& n : g->nodes()) withResidual += n->opType == "FusedConv" && n->inputs.size() == 4;
    EXPECT_EQ(withResidual, 1u);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {1, 4, 6, 6}, -1, 1, 42)}},
                                          1e-5, 1e-5);
}

TEST_F(FusionTest, MatMulWithBiasAndGeluBecomesOneGemm) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 7, 16});
    ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {16, 24}, -0.5, 0.5, 43))});
    ITensor* y = op("Gelu", {op("Add", {mm, constant(randomTensor(DataType::kFLOAT, {24}, -1, 1, 44))})});
    net->markOutput(*y);
    MatMulFusion pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    EXPECT_EQ(g->nodes()[0]->opType, "FusedMatMul");
    EXPECT_EQ(g->nodes()[0]->attrs.getString("activation", ""), "Gelu");
    EXPECT_EQ(g->nodes()[0]->inputs.size(), 3u);  // A, B, bias
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {3, 7, 16}, -1, 1, 45)}},
                                          1e-5, 1e-5);
}

/// The FusedMatMul nodes of `g` that read a residual (input 3).
size_t fusedMatMulsWithResidual(const Graph& g) {
    size_t n = 0;
    for (const auto& node : g.nodes()) n += node->opType == "FusedMatMul" && node->hasInput(3);
    return n;
}

TEST_F(FusionTest, ResidualAddAfterBiasFoldsOnEitherSide) {
    for (bool residualFirst : {false, true}) {
        SCOPED_TRACE(residualFirst ? "Add(residual, projection)" : "Add(projection, residual)");
        net = builder->createNetwork();
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 64});
        ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{2, 5, 48});
        ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {64, 48}, -0.5, 0.5, 50))});
        ITensor* projected = op("Add", {mm, constant(randomTensor(DataType::kFLOAT, {48}, -1, 1, 51))});
        ITensor* y = op("Add", residualFirst ? std::vector<ITensor*>{r, projected} : std::vector<ITensor*>{projected, r});
        net->markOutput(*y);
        MatMulFusion pass;
        auto g = runPass(net->graph(), pass);
        ASSERT_EQ(g->nodes().size(), 1u);
        const Node& fused = *g->nodes()[0];
        EXPECT_EQ(fused.opType, "FusedMatMul");
        ASSERT_EQ(fused.inputs.size(), 4u);  // A, B, bias, Z
        EXPECT_TRUE(fused.hasInput(2));
        EXPECT_EQ(fused.input(3)->name, "r");
        expectSameResultsWithAndWithoutPasses(*builder, *net,
                                              {{"x", randomTensor(DataType::kFLOAT, {2, 5, 64}, -1, 1, 52)},
                                               {"r", randomTensor(DataType::kFLOAT, {2, 5, 48}, -1, 1, 53)}},
                                              1e-5, 1e-5);
    }
}

TEST_F(FusionTest, ResidualAddWithoutBiasFoldsAndTakesTheActivationAfterIt) {
    // x + x W with a dynamic batch: the residual's batch dim is the product's own symbol.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 5, 16});
    ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {16, 16}, -0.5, 0.5, 54))});
    ITensor* y = op("Relu", {op("Add", {x, mm})});
    net->markOutput(*y);
    MatMulFusion pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    const Node& fused = *g->nodes()[0];
    EXPECT_EQ(fused.opType, "FusedMatMul");
    EXPECT_EQ(fused.attrs.getString("activation", ""), "Relu");
    ASSERT_EQ(fused.inputs.size(), 4u);
    EXPECT_FALSE(fused.hasInput(2));
    EXPECT_EQ(fused.input(3), fused.input(0));
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {3, 5, 16}, -1, 1, 55)}},
                                          1e-5, 1e-5);
}

TEST_F(FusionTest, ResidualAddFoldsIntoAnExistingFusedMatMulWithoutActivation) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4, 32});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{4, 24});
    ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {32, 24}, -0.5, 0.5, 56))});
    ITensor* projected = op("Add", {mm, constant(randomTensor(DataType::kFLOAT, {24}, -1, 1, 57))});
    net->markOutput(*op("Add", {projected, r}));
    // A FusedMatMul(A, B, bias) made earlier (its bias Add on its own) takes the residual Add too.
    auto g = net->graph().clone();
    Node* matmul = g->nodes()[0].get();
    Node* biasAdd = g->nodes()[1].get();
    ASSERT_EQ(matmul->opType, "MatMul");
    ASSERT_EQ(biasAdd->opType, "Add");
    addReplacementNode(*g, "FusedMatMul", "kiln", {matmul->input(0), matmul->input(1), biasAdd->input(1)},
                       {biasAdd->output(0)}, {matmul, biasAdd});
    ASSERT_TRUE(finishRewrite(*g, {matmul, biasAdd}).isOk());
    MatMulFusion pass;
    auto h = runPass(*g, pass);
    ASSERT_EQ(h->nodes().size(), 1u);
    EXPECT_EQ(fusedMatMulsWithResidual(*h), 1u);
    EXPECT_TRUE(h->nodes()[0]->hasInput(2));
}

TEST_F(FusionTest, ResidualAddStaysWhenItBroadcasts) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{5, 8});  // broadcast over the batch
    ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {16, 8}, -0.5, 0.5, 58))});
    net->markOutput(*op("Add", {mm, r}));
    MatMulFusion pass;
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Add"), 1u);
    EXPECT_EQ(countOps(*g, "MatMul"), 1u);
}

TEST_F(FusionTest, ResidualAddStaysWhenTheProductHasAnotherReader) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{2, 5, 8});
    ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {16, 8}, -0.5, 0.5, 59))});
    net->markOutput(*op("Add", {mm, r}));
    net->markOutput(*op("Tanh", {mm}));
    MatMulFusion pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Add"), 1u);
    EXPECT_EQ(fusedMatMulsWithResidual(*g), 0u);
}

TEST_F(FusionTest, ResidualAddStaysAfterAnActivation) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{2, 5, 8});
    ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {16, 8}, -0.5, 0.5, 60))});
    ITensor* act = op("Gelu", {op("Add", {mm, constant(randomTensor(DataType::kFLOAT, {8}, -1, 1, 61))})});
    net->markOutput(*op("Add", {act, r}));
    MatMulFusion pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "FusedMatMul"), 1u);
    EXPECT_EQ(countOps(*g, "Add"), 1u);  // act(MatMul + bias) + r is not act(MatMul + bias + r)
    EXPECT_EQ(fusedMatMulsWithResidual(*g), 0u);
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"x", randomTensor(DataType::kFLOAT, {2, 5, 16}, -1, 1, 62)},
                                           {"r", randomTensor(DataType::kFLOAT, {2, 5, 8}, -1, 1, 63)}},
                                          1e-5, 1e-5);
}

TEST_F(FusionTest, SiblingsWithAResidualStayApart) {
    // Two projections of x, one with a residual: only equal epilogues without residual merge.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{2, 5, 8});
    std::vector<ITensor*> outs;
    for (uint32_t i = 0; i < 2; ++i) {
        ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {16, 8}, -1, 1, 64 + i))});
        outs.push_back(op("Add", {mm, constant(randomTensor(DataType::kFLOAT, {8}, -1, 1, 66 + i))}));
    }
    outs[0] = op("Add", {outs[0], r});
    for (ITensor* o : outs) net->markOutput(*o);
    MatMulFusion vertical;
    auto g = runPass(net->graph(), vertical);
    EXPECT_EQ(fusedMatMulsWithResidual(*g), 1u);
    HorizontalFusion horizontal;
    bool changed = true;
    auto h = runPass(*g, horizontal, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*h, "FusedMatMul"), 2u);
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"x", randomTensor(DataType::kFLOAT, {2, 5, 16}, -1, 1, 68)},
                                           {"r", randomTensor(DataType::kFLOAT, {2, 5, 8}, -1, 1, 69)}},
                                          1e-5, 1e-5);
}

TEST_F(FusionTest, MatMulFusionSkipsLayersWithoutAFirstOutput) {
    // An RNN whose Y is omitted (ONNX's empty output name) has no output 0; only its Y_h is read.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 2, 4});
    LayerAttributes attrs;
    attrs.setInt("hidden_size", 5);
    ILayer* rnn = net->addLayer("RNN",
                                {x, constant(randomTensor(DataType::kFLOAT, {1, 5, 4}, -1, 1, 70)),
                                 constant(randomTensor(DataType::kFLOAT, {1, 5, 5}, -1, 1, 71))},
                                2, attrs);
    ASSERT_NE(rnn, nullptr);
    net->markOutput(*rnn->getOutput(1));
    auto g = net->graph().clone();
    for (const auto& n : g->nodes())
        if (n->opType == "RNN") n->outputs[0] = nullptr;
    g->removeUnusedValues();
    MatMulFusion pass;
    bool changed = true;
    runPass(*g, pass, &changed);
    EXPECT_FALSE(changed);
}

TEST_F(FusionTest, SiblingProjectionsBecomeOneGemm) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
    std::vector<ITensor*> outs;
    for (uint32_t i = 0; i < 3; ++i) {
        ITensor* mm = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {16, 8}, -1, 1, 20 + i))});
        outs.push_back(op("Add", {mm, constant(randomTensor(DataType::kFLOAT, {8}, -1, 1, 30 + i))}));
    }
    for (ITensor* o : outs) net->markOutput(*o);
    MatMulFusion vertical;
    auto g = runPass(net->graph(), vertical);
    EXPECT_EQ(countOps(*g, "FusedMatMul"), 3u);
    HorizontalFusion horizontal;
    bool changed = false;
    auto h = runPass(*g, horizontal, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(countOps(*h, "FusedMatMul"), 1u);
    EXPECT_EQ(countOps(*h, "Split"), 1u);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {2, 5, 16}, -1, 1, 13)}},
                                          1e-5, 1e-5);
}

TEST_F(FusionTest, TransposeAndReshapeChainsCollapse) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 4});
    LayerAttributes p1, p2;
    p1.setInts("perm", {1, 0, 2});
    p2.setInts("perm", {1, 0, 2});
    ITensor* back = op("Transpose", {op("Transpose", {x}, p1)}, p2);  // identity overall
    ITensor* r = op("Reshape", {op("Reshape", {op("Relu", {back}), ints({6, 4})}), ints({4, -1})});
    net->markOutput(*r);
    LayoutCancellation pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Transpose"), 0u);
    EXPECT_EQ(countOps(*g, "Reshape"), 1u);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {2, 3, 4}, -1, 1, 14)}});
}

}  // namespace
}  // namespace kiln::test
