// Attention reading Q, K and V by strides (passes/attention_strided_inputs.h): torch's packed
// nn.MultiheadAttention split and a horizontally fused projection's Split feed the attention directly
// and compute the same values; chains with unaligned strides or dynamic shapes keep their copies. Then
// (passes/attention_batch_first_output.h) torch's sequence-first output projection runs on the
// batch-first rows such an attention writes, without its two transposes.

#include <gtest/gtest.h>

#include <cmath>

#include "ir/ops/attention_views.h"
#include "pass_test_util.h"
#include "passes/attention_batch_first_output.h"
#include "passes/attention_fusion.h"
#include "passes/attention_strided_inputs.h"
#include "passes/matmul_fusion.h"

namespace kiln::test {
namespace {

class AttentionStridedInputsTest : public NetworkTest {
protected:
    LayerAttributes axis(int64_t a) { return LayerAttributes().setInt("axis", a); }
    LayerAttributes perm(std::vector<int64_t> p) { return LayerAttributes().setInts("perm", std::move(p)); }
    ITensor* index(int64_t i) { return net->addConstant(Dims{}, DataType::kINT64, &i); }

    /// nn.MultiheadAttention's exported packed in-projection and head split, sequence first:
    /// x [seq, batch, width] -> q, k, v [batch, heads, seq, head] -> attention -> [seq, batch, width];
    /// with `project`, its output projection too and the batch-first result [batch, seq, width].
    void buildTorchBlock(ITensor* x, int64_t seq, int64_t batch, int64_t heads, int64_t head, bool project = false) {
        const int64_t width = heads * head;
        ITensor* packed = op("Add", {op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {width, 3 * width},
                                                                            -0.5, 0.5, 1))}),
                                     constant(randomTensor(DataType::kFLOAT, {3 * width}, -0.5, 0.5, 2))});
        ITensor* split = op("Reshape", {packed, ints({seq, batch, 3, width})});
        ITensor* stacked = op("Squeeze", {op("Transpose", {op("Unsqueeze", {split, ints({0})})}, perm({3, 1, 2, 0, 4})),
                                          ints({-2})});
        auto headsOf = [&](int64_t which) {
            ITensor* t = op("Gather", {stacked, index(which)}, axis(0));
            t = op("Transpose", {op("Reshape", {t, ints({seq, batch * heads, head})})}, perm({1, 0, 2}));
            return op("Reshape", {t, ints({batch, heads, seq, head})});
        };
        ITensor* q = headsOf(0);
        ITensor* k = headsOf(1);
        ITensor* v = headsOf(2);
        ITensor* kT = op("Transpose", {k}, perm({0, 1, 3, 2}));
        ITensor* scores = op("Div", {op("MatMul", {q, kT}), scalar(std::sqrt(float(head)))});
        ITensor* context = op("MatMul", {op("Softmax", {scores}, axis(-1)), v});
        ITensor* merged = op("Transpose", {context}, perm({2, 0, 1, 3}));
        if (!project) {
            net->markOutput(*op("Reshape", {merged, ints({seq, batch, width})}));
            return;
        }
        ITensor* rows = op("Reshape", {merged, ints({seq * batch, width})});
        ITensor* projected = op("Gemm",
                                {rows, constant(randomTensor(DataType::kFLOAT, {width, width}, -0.5, 0.5, 8)),
                                 constant(randomTensor(DataType::kFLOAT, {width}, -0.5, 0.5, 9))},
                                LayerAttributes().setInt("transB", 1));
        ITensor* grid = op("Reshape", {projected, ints({seq, batch, width})});
        net->markOutput(*op("Transpose", {grid}, perm({1, 0, 2})));
    }

    static const Node* attentionOf(const Graph& g) {
        for (const auto& n : g.nodes())
            if (n->opType == "Attention") return n.get();
        return nullptr;
    }
};

TEST_F(AttentionStridedInputsTest, TorchsPackedProjectionFeedsAttentionWithoutCopies) {
    const int64_t seq = 5, batch = 2, heads = 2, head = 8, width = heads * head;
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{seq, batch, width});
    buildTorchBlock(x, seq, batch, heads, head);
    AttentionFusion fusion;
    auto fused = runPass(net->graph(), fusion);
    AttentionStridedInputs strided;
    bool changed = false;
    auto g = runPass(*fused, strided, &changed);
    EXPECT_TRUE(changed);
    const Node* attention = attentionOf(*g);
    ASSERT_NE(attention, nullptr);
    const auto decoded = decodeAttentionInputViews(attention->attrs);
    ASSERT_TRUE(decoded.views.has_value()) << decoded.error;
    EXPECT_EQ(decoded.views->outputRank, 4);
    for (size_t i = 0; i < 3; ++i) {
        ASSERT_NE(attention->input(i)->producer, nullptr);
        EXPECT_EQ(attention->input(i)->producer->opType, "Add");  // the projection's bias, not a copy
        const AttentionInputView& view = decoded.views->qkv[i];
        EXPECT_EQ(view.offset, static_cast<int64_t>(i) * width);
        EXPECT_EQ(view.batchStride, 3 * width);
        EXPECT_EQ(view.headStride, head);
        EXPECT_EQ(view.seqStride, batch * 3 * width);
    }
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"x", randomTensor(DataType::kFLOAT, {seq, batch, width}, -1, 1, 3)}},
                                          1e-4, 1e-5);
}

TEST_F(AttentionStridedInputsTest, TorchsOutputProjectionRunsOnBatchFirstRows) {
    const int64_t seq = 7, batch = 3, heads = 2, head = 8, width = heads * head;
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{seq, batch, width});
    buildTorchBlock(x, seq, batch, heads, head, true);
    AttentionFusion fusion;
    AttentionStridedInputs strided;
    AttentionBatchFirstOutput batchFirst;
    auto g = runPass(*runPass(*runPass(net->graph(), fusion), strided), batchFirst);
    const Node* attention = attentionOf(*g);
    ASSERT_NE(attention, nullptr);
    const auto decoded = decodeAttentionInputViews(attention->attrs);
    ASSERT_TRUE(decoded.views.has_value()) << decoded.error;
    EXPECT_EQ(decoded.views->outputRank, 3);
    EXPECT_EQ(attention->output(0)->shape, (SymShape{batch, seq, width}));
    // output <- Reshape <- Gemm <- Reshape <- Attention: no Transpose on the way.
    ASSERT_EQ(g->outputs().size(), 1u);
    const Node* grid = g->outputs()[0]->producer;
    ASSERT_NE(grid, nullptr);
    EXPECT_EQ(grid->opType, "Reshape");
    const Node* gemm = grid->input(0)->producer;
    ASSERT_NE(gemm, nullptr);
    EXPECT_EQ(gemm->opType, "Gemm");
    const Node* rows = gemm->input(0)->producer;
    ASSERT_NE(rows, nullptr);
    EXPECT_EQ(rows->opType, "Reshape");
    EXPECT_EQ(rows->input(0)->producer, attention);
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"x", randomTensor(DataType::kFLOAT, {seq, batch, width}, -1, 1, 10)}},
                                          1e-4, 1e-5);
}

TEST_F(AttentionStridedInputsTest, ABatchFirstInputIsProjectedWithoutItsTranspose) {
    // nn.MultiheadAttention(batch_first=True): x [batch, seq, width] is transposed to sequence-first before
    // the packed projection; the projection reads x, and the transpose goes with the head-split copies.
    const int64_t seq = 6, batch = 2, heads = 2, head = 8, width = heads * head;
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{batch, seq, width});
    buildTorchBlock(op("Transpose", {x}, perm({1, 0, 2})), seq, batch, heads, head, true);
    AttentionFusion fusion;
    MatMulFusion matmuls;  // the projection and its bias become the FusedMatMul the builder has by then
    AttentionStridedInputs strided;
    bool changed = false;
    auto g = runPass(*runPass(*runPass(net->graph(), fusion), matmuls), strided, &changed);
    EXPECT_TRUE(changed);
    const Node* attention = attentionOf(*g);
    ASSERT_NE(attention, nullptr);
    ASSERT_TRUE(attention->attrs.has(kQkvViewsAttribute));
    const Node* projection = attention->input(0)->producer;
    ASSERT_NE(projection, nullptr);
    ASSERT_EQ(projection->opType, "FusedMatMul");
    EXPECT_EQ(projection->input(0), g->inputs()[0]);  // x itself, not its transpose
    const auto decoded = decodeAttentionInputViews(attention->attrs);
    ASSERT_TRUE(decoded.views.has_value());
    EXPECT_EQ(decoded.views->qkv[0].batchStride, seq * 3 * width);
    EXPECT_EQ(decoded.views->qkv[0].seqStride, 3 * width);
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"x", randomTensor(DataType::kFLOAT, {batch, seq, width}, -1, 1, 12)}},
                                          1e-4, 1e-5);
}

TEST_F(AttentionStridedInputsTest, AFusedProjectionsSplitFeedsThreeDimensionalAttention) {
    // BERT after horizontal fusion: [batch, seq, 3 * width] -> Split -> 3-D Attention with a mask.
    const int64_t batch = 2, seq = 6, heads = 2, head = 8, width = heads * head;
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{batch, seq, width});
    ITensor* mask = net->addInput("mask", DataType::kFLOAT, Dims{batch, 1, 1, seq});
    ITensor* packed = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {width, 3 * width}, -0.5, 0.5, 4))});
    ILayer* split = net->addLayer("Split", {packed, ints({width, width, width})}, 3, axis(-1));
    ASSERT_NE(split, nullptr);
    ILayer* attention = net->addLayer(
        "Attention", {split->getOutput(0), split->getOutput(1), split->getOutput(2), mask}, 1,
        LayerAttributes().setInt("q_num_heads", heads).setInt("kv_num_heads", heads));
    ASSERT_NE(attention, nullptr);
    net->markOutput(*attention->getOutput(0));
    AttentionStridedInputs strided;
    bool changed = false;
    auto g = runPass(net->graph(), strided, &changed);
    EXPECT_TRUE(changed);
    const Node* fused = attentionOf(*g);
    ASSERT_NE(fused, nullptr);
    const auto decoded = decodeAttentionInputViews(fused->attrs);
    ASSERT_TRUE(decoded.views.has_value()) << decoded.error;
    EXPECT_EQ(decoded.views->outputRank, 3);
    EXPECT_EQ(fused->input(1), fused->input(0));
    EXPECT_EQ(decoded.views->qkv[2].offset, 2 * width);
    EXPECT_EQ(decoded.views->qkv[2].seqStride, 3 * width);

    Tensor maskValues = randomTensor(DataType::kFLOAT, {batch, 1, 1, seq}, 0, 1, 5);
    for (int64_t i = 0; i < maskValues.elementCount(); ++i)
        maskValues.data<float>()[i] = maskValues.data<float>()[i] > 0.7f ? -10000.f : 0.f;
    expectSameResultsWithAndWithoutPasses(
        *builder, *net, {{"x", randomTensor(DataType::kFLOAT, {batch, seq, width}, -1, 1, 6)}, {"mask", maskValues}},
        1e-4, 1e-5);
}

TEST_F(AttentionStridedInputsTest, UnalignedOrDynamicChainsKeepTheirCopies) {
    // Heads of 4 elements: K starts 12 elements into each row, no multiple of 8.
    {
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{5, 2, 12});
        buildTorchBlock(x, 5, 2, 3, 4);
        AttentionFusion fusion;
        auto fused = runPass(net->graph(), fusion);
        ASSERT_NE(attentionOf(*fused), nullptr);
        AttentionStridedInputs strided;
        bool changed = true;
        runPass(*fused, strided, &changed);
        EXPECT_FALSE(changed);
    }
    // A dynamic batch: the Split's pieces have no static strides.
    net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 6, 48});
    ITensor* packed = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {48, 48}, -0.5, 0.5, 7))});
    ILayer* split = net->addLayer("Split", {packed, ints({16, 16, 16})}, 3, axis(-1));
    ASSERT_NE(split, nullptr);
    ILayer* attention = net->addLayer("Attention", {split->getOutput(0), split->getOutput(1), split->getOutput(2)}, 1,
                                      LayerAttributes().setInt("q_num_heads", 2).setInt("kv_num_heads", 2));
    ASSERT_NE(attention, nullptr);
    net->markOutput(*attention->getOutput(0));
    AttentionStridedInputs strided;
    bool changed = true;
    runPass(net->graph(), strided, &changed);
    EXPECT_FALSE(changed);
}

}  // namespace
}  // namespace kiln::test
