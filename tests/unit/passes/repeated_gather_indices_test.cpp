// A Gather of constant rows by constant indices that repeat along some axes, read by an Add of the whole
// shape, becomes the rows gathered once, broadcast by the Add: BERT's embeddings, where token types are
// all 0 and position ids repeat over the batch.

#include <gtest/gtest.h>

#include <vector>

#include "pass_test_util.h"
#include "passes/repeated_gather_indices.h"

namespace kiln::test {
namespace {

using RepeatedGatherIndicesTest = NetworkTest;

constexpr int64_t kBatch = 3, kSeq = 4, kWidth = 5, kVocab = 7;


TEST_F(RepeatedGatherIndicesTest, TokenTypesAndPositionsAreGatheredOnceAndBroadcast) {
    ITensor* ids = net->addInput("ids", DataType::kINT64, Dims{kBatch, kSeq});
    Tensor words = randomTensor(DataType::kFLOAT, {kVocab, kWidth}, -1, 1, 1);
    Tensor types = randomTensor(DataType::kFLOAT, {2, kWidth}, -1, 1, 2);
    Tensor positions = randomTensor(DataType::kFLOAT, {kSeq, kWidth}, -1, 1, 3);
    std::vector<int64_t> typeIds(kBatch * kSeq, 1), positionIds;  // every token of type 1
    for (int64_t b = 0; b < kBatch; ++b)
        for (int64_t s = 0; s < kSeq; ++s) positionIds.push_back(s);
    ITensor* sum = op("Add", {op("Gather", {constant(words), ids}),
                              op("Gather", {constant(types), constant(Tensor::fromInt64(typeIds, {kBatch, kSeq}))})});
    sum = op("Add", {sum, op("Gather", {constant(positions), constant(Tensor::fromInt64(positionIds, {kBatch, kSeq}))})});
    net->markOutput(*sum);

    RepeatedGatherIndices pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(countOps(*g, "Gather"), 1u);  // the words' alone
    std::vector<Shape> broadcast;
    for (const auto& n : g->nodes())
        if (n->opType == "Add")
            for (const Value* in : n->inputs)
                if (in->isConstant()) broadcast.push_back(in->constant->shape());
    EXPECT_EQ(broadcast, (std::vector<Shape>{{1, 1, kWidth}, {1, kSeq, kWidth}}));

    Tensor input = Tensor::fromInt64({0, 6, 2, 3, 1, 1, 5, 4, 6, 0, 2, 2}, {kBatch, kSeq});
    std::vector<double> reference;
    for (int64_t b = 0; b < kBatch; ++b)
        for (int64_t s = 0; s < kSeq; ++s)
            for (int64_t c = 0; c < kWidth; ++c)
                reference.push_back(static_cast<double>(words.data<float>()[input.data<int64_t>()[b * kSeq + s] * kWidth + c]) +
                                    types.data<float>()[kWidth + c] + positions.data<float>()[s * kWidth + c]);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"ids", input}}, logger);
    ASSERT_TRUE(run.ok);
    EXPECT_EQ(compareWithReference(run.outputs[0], reference, 1e-6, 1e-7), "");
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"ids", input}});
}

TEST_F(RepeatedGatherIndicesTest, IndicesThatDoNotRepeatOrAnAddTheGatherShapesStay) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{kBatch, kSeq, kWidth});
    ITensor* row = net->addInput("row", DataType::kFLOAT, Dims{1, 1, kWidth});
    ITensor* table = constant(randomTensor(DataType::kFLOAT, {kVocab, kWidth}, -1, 1, 4));
    std::vector<int64_t> distinct;
    for (int64_t i = 0; i < kBatch * kSeq; ++i) distinct.push_back(i % kVocab);
    // No axis along which these repeat.
    net->markOutput(*op("Add", {x, op("Gather", {table, constant(Tensor::fromInt64(distinct, {kBatch, kSeq}))})}));
    // Repeated indices, but the Add's shape is the Gather's: [1, 1, width] + [b, s, width].
    std::vector<int64_t> zeros(kBatch * kSeq, 0);
    net->markOutput(*op("Add", {row, op("Gather", {table, constant(Tensor::fromInt64(zeros, {kBatch, kSeq}))})}));

    RepeatedGatherIndices pass;
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Gather"), 2u);
}

}  // namespace
}  // namespace kiln::test
