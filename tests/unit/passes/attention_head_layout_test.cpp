// Attention fed its [batch, seq, heads * head] tensors (passes/attention_head_layout.h): a BERT-style block
// exported with a dynamic batch and sequence (head splits by Shape -> Gather -> Unsqueeze -> Concat
// targets) loses its head Reshapes and Transposes and computes the same values; Reshapes that do not
// provably split the last axis alone keep the 4-D form.

#include <gtest/gtest.h>

#include <cmath>

#include "pass_test_util.h"
#include "passes/attention_fusion.h"
#include "passes/attention_head_layout.h"

namespace kiln::test {
namespace {

constexpr int64_t kHeads = 2, kHead = 8, kWidth = kHeads * kHead;

class AttentionHeadLayoutTest : public NetworkTest {
protected:
    LayerAttributes axis(int64_t a) { return LayerAttributes().setInt("axis", a); }
    LayerAttributes perm(std::vector<int64_t> p) { return LayerAttributes().setInts("perm", std::move(p)); }

    /// Dimension `dim` of `t`'s shape as a 1-element int64 tensor, as an exported x.size(dim) is.
    ITensor* dimOf(ITensor* t, int64_t dim) {
        const int64_t index = dim;
        ITensor* i = net->addConstant(Dims{}, DataType::kINT64, &index);
        return op("Unsqueeze", {op("Gather", {op("Shape", {t}), i}, axis(0)), ints({0})});
    }
    /// x [b, s, kWidth] -> [b, heads, s, head] (`keyLayout`: [b, heads, head, s]).
    ITensor* splitHeads(ITensor* x, bool keyLayout) {
        ITensor* target = op("Concat", {dimOf(x, 0), dimOf(x, 1), ints({kHeads, kHead})}, axis(0));
        ITensor* split = op("Reshape", {x, target});
        return op("Transpose", {split}, perm(keyLayout ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3}));
    }
    /// The block: softmax(Q K^T / sqrt(head) + mask) V with heads split and merged around it.
    void buildBlock(ITensor* x, ITensor* mask) {
        auto projection = [&](uint32_t seed) {
            return op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {kWidth, kWidth}, -0.5, 0.5, seed))});
        };
        ITensor* q = splitHeads(projection(1), false);
        ITensor* kT = splitHeads(projection(2), true);
        ITensor* v = splitHeads(projection(3), false);
        ITensor* scores = op("Add", {op("Div", {op("MatMul", {q, kT}), scalar(std::sqrt(float(kHead)))}), mask});
        ITensor* context = op("Transpose", {op("MatMul", {op("Softmax", {scores}, axis(-1)), v})}, perm({0, 2, 1, 3}));
        ITensor* target = op("Concat", {dimOf(context, 0), dimOf(context, 1), ints({kWidth})}, axis(0));
        net->markOutput(*op("Reshape", {context, target}));
    }
};

TEST_F(AttentionHeadLayoutTest, ABertBlockWithADynamicBatchReadsItsHeadsByStride) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, -1, kWidth});
    ITensor* mask = net->addInput("mask", DataType::kFLOAT, Dims{-1, 1, 1, -1});
    buildBlock(x, mask);
    AttentionFusion fusion;
    auto fused = runPass(net->graph(), fusion);
    ASSERT_EQ(countOps(*fused, "Attention"), 1u);
    AttentionHeadLayout layout;
    bool changed = false;
    auto g = runPass(*fused, layout, &changed);
    EXPECT_TRUE(changed);
    ASSERT_EQ(countOps(*g, "Attention"), 1u);
    EXPECT_EQ(countOps(*g, "Transpose"), 0u);
    const Node* attention = nullptr;
    for (const auto& n : g->nodes())
        if (n->opType == "Attention") attention = n.get();
    EXPECT_EQ(attention->attrs.getInt("q_num_heads", 0), kHeads);
    EXPECT_EQ(attention->attrs.getInt("kv_num_heads", 0), kHeads);
    EXPECT_EQ(attention->input(0)->shape.size(), 3u);
    ASSERT_EQ(g->outputs().size(), 1u);
    EXPECT_EQ(g->outputs()[0]->producer, attention);

    Tensor maskValues = randomTensor(DataType::kFLOAT, {3, 1, 1, 5}, 0, 1, 9);
    for (int64_t i = 0; i < maskValues.elementCount(); ++i)
        maskValues.data<float>()[i] = maskValues.data<float>()[i] > 0.7f ? -10000.f : 0.f;
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"x", randomTensor(DataType::kFLOAT, {3, 5, kWidth}, -1, 1, 10)},
                                           {"mask", maskValues}},
                                          1e-4, 1e-5);
}

TEST_F(AttentionHeadLayoutTest, AReshapeThatMixesBatchAndSequenceKeepsTheFourDimensionalForm) {
    // Q's split reshapes [2, 6, 16] to [3, 4, 2, 8]: batch and sequence are regrouped, not kept.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 6, kWidth});
    auto project = [&](uint32_t seed, std::vector<int64_t> target, std::vector<int64_t> p) {
        ITensor* y = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {kWidth, kWidth}, -0.5, 0.5, seed))});
        return op("Transpose", {op("Reshape", {y, ints(target)})}, perm(std::move(p)));
    };
    ITensor* q = project(1, {3, 4, kHeads, kHead}, {0, 2, 1, 3});
    ITensor* kT = project(2, {3, 4, kHeads, kHead}, {0, 2, 3, 1});
    ITensor* v = project(3, {3, 4, kHeads, kHead}, {0, 2, 1, 3});
    ITensor* probs = op("Softmax", {op("Mul", {op("MatMul", {q, kT}), scalar(0.35f)})}, axis(-1));
    ITensor* context = op("Transpose", {op("MatMul", {probs, v})}, perm({0, 2, 1, 3}));
    net->markOutput(*op("Reshape", {context, ints({2, 6, kWidth})}));
    AttentionFusion fusion;
    auto fused = runPass(net->graph(), fusion);
    ASSERT_EQ(countOps(*fused, "Attention"), 1u);
    AttentionHeadLayout layout;
    bool changed = true;
    auto g = runPass(*fused, layout, &changed);
    EXPECT_FALSE(changed);
    expectSameResultsWithAndWithoutPasses(*builder, *net,
                                          {{"x", randomTensor(DataType::kFLOAT, {2, 6, kWidth}, -1, 1, 11)}}, 1e-4,
                                          1e-5);
}

}  // namespace
}  // namespace kiln::test
