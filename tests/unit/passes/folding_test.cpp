#include <gtest/gtest.h>

#include <cstdint>

#include "pass_test_util.h"
#include "passes/batchnorm_folding.h"
#include "passes/constant_folding.h"
#include "passes/shape_folding.h"

namespace kiln::test {
namespace {

using FoldingTest = NetworkTest;

TEST_F(FoldingTest, ConstantSubgraphBecomesOneConstantWithTheRightValues) {
    Tensor a = randomTensor(DataType::kFLOAT, {3, 4}, -2, 2, 1);
    Tensor b = randomTensor(DataType::kFLOAT, {4}, -2, 2, 2);
    ITensor* sum = net->addLayer("Add", {constant(a), constant(b)})->getOutput(0);
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 4});
    ITensor* y = net->addLayer("Mul", {x, sum})->getOutput(0);
    net->markOutput(*y);
    ConstantFolding pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    const Value* folded = g->nodes()[0]->input(1);
    ASSERT_TRUE(folded->isConstant());
    std::vector<double> expected(12);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j)
            expected[static_cast<size_t>(i * 4 + j)] = double(a.data<float>()[i * 4 + j]) + double(b.data<float>()[j]);
    EXPECT_EQ(compareWithReference(*folded->constant, expected, 1e-6, 1e-7), "");
    std::map<std::string, Tensor> inputs{{"x", randomTensor(DataType::kFLOAT, {3, 4}, -1, 1, 3)}};
    expectSameResultsWithAndWithoutPasses(*builder, *net, inputs);
}

// Seed 001's pattern: Shape -> Gather -> Unsqueeze -> Concat -> Reshape on a static input.
TEST_F(FoldingTest, StaticShapeComputationFoldsAway) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 4});
    ITensor* shape = net->addLayer("Shape", {x})->getOutput(0);
    int64_t zero = 0;
    LayerAttributes axis0;
    axis0.setInt("axis", 0);
    ITensor* batch = net->addLayer("Gather", {shape, net->addConstant(Dims{}, DataType::kINT64, &zero)}, 1, axis0)->getOutput(0);
    ITensor* batch1 = net->addLayer("Unsqueeze", {batch, net->addConstant(Dims{1}, DataType::kINT64, &zero)})->getOutput(0);
    int64_t minusOne = -1;
    ITensor* target = net->addLayer("Concat", {batch1, net->addConstant(Dims{1}, DataType::kINT64, &minusOne)}, 1, axis0)->getOutput(0);
    ITensor* y = net->addLayer("Reshape", {x, target})->getOutput(0);
    net->markOutput(*y);
    ShapeFolding pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    EXPECT_EQ(g->nodes()[0]->opType, "Reshape");
    ASSERT_TRUE(g->nodes()[0]->input(1)->isConstant());
    EXPECT_EQ(g->nodes()[0]->input(1)->constant->toInt64Vector(), (std::vector<int64_t>{2, -1}));
    EXPECT_EQ(symShapeToString(g->outputs()[0]->shape), "(2, 12)");
    std::map<std::string, Tensor> inputs{{"x", randomTensor(DataType::kFLOAT, {2, 3, 4}, -1, 1, 4)}};
    expectSameResultsWithAndWithoutPasses(*builder, *net, inputs);
}

TEST_F(FoldingTest, DynamicShapeComputationStays) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 3, 4});
    ITensor* shape = net->addLayer("Shape", {x})->getOutput(0);
    int64_t zero = 0;
    LayerAttributes axis0;
    axis0.setInt("axis", 0);
    ITensor* batch = net->addLayer("Gather", {shape, net->addConstant(Dims{}, DataType::kINT64, &zero)}, 1, axis0)->getOutput(0);
    ITensor* batch1 = net->addLayer("Unsqueeze", {batch, net->addConstant(Dims{1}, DataType::kINT64, &zero)})->getOutput(0);
    int64_t minusOne = -1;
    ITensor* target = net->addLayer("Concat", {batch1, net->addConstant(Dims{1}, DataType::kINT64, &minusOne)}, 1, axis0)->getOutput(0);
    ITensor* y = net->addLayer("Reshape", {x, target})->getOutput(0);
    net->markOutput(*y);
    ShapeFolding pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Shape"), 1u);
    EXPECT_EQ(g->outputs()[0]->shape.size(), 2u);
}

// A dynamic batch, a static head size read off the shape for attention's scale (torch's SDPA export:
// Shape -> Slice(-1:) -> Cast -> Sqrt -> Div -> Sqrt -> Mul): the whole scale folds to a constant.
TEST_F(FoldingTest, StaticExtentsOfAPartlyDynamicShapeFold) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 2, 5, 16});
    ITensor* shape = op("Shape", {x});
    ITensor* last = op("Slice", {shape, ints({-1}), ints({INT64_MAX})});
    ITensor* lastf = op("Cast", {last}, LayerAttributes().setInt("to", 1));
    ITensor* scale = op("Sqrt", {op("Div", {scalar(1.f), op("Sqrt", {lastf})})});
    net->markOutput(*op("Mul", {x, scale}));
    ShapeFolding pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(countOps(*g, "Slice"), 0u);
    EXPECT_EQ(countOps(*g, "Sqrt"), 0u);
    ASSERT_EQ(countOps(*g, "Mul"), 1u);
    const Node* mul = nullptr;
    for (const auto& node : g->nodes())
        if (node->opType == "Mul") mul = node.get();
    ASSERT_TRUE(mul->input(1)->isConstant());
    EXPECT_NEAR(mul->input(1)->constant->elementAsDouble(0), 0.5, 1e-7);  // sqrt(1 / sqrt(16))
    std::map<std::string, Tensor> inputs{{"x", randomTensor(DataType::kFLOAT, {3, 2, 5, 16}, -1, 1, 21)}};
    expectSameResultsWithAndWithoutPasses(*builder, *net, inputs);
}

// Gather picks with the op's own index rules (negative indices, a 1-D index list, Shape's start):
// only picks of static extents fold; a pick that includes the dynamic batch stays.
TEST_F(FoldingTest, OnlyPicksOfStaticExtentsFold) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 6, 7});
    LayerAttributes axis0;
    axis0.setInt("axis", 0);
    int64_t minusOne = -1;
    ITensor* lastDim = op("Gather", {op("Shape", {x}), net->addConstant(Dims{}, DataType::kINT64, &minusOne)}, axis0);
    ITensor* tail = op("Gather", {op("Shape", {x}, LayerAttributes().setInt("start", 1)), ints({1, 0})}, axis0);
    ITensor* withBatch = op("Gather", {op("Shape", {x}), ints({2, 0})}, axis0);
    ITensor* head = op("Slice", {op("Shape", {x}), ints({0}), ints({2})});
    for (ITensor* t : {lastDim, tail, withBatch, head}) net->markOutput(*t);
    ShapeFolding pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->outputs().size(), 4u);
    ASSERT_TRUE(g->outputs()[0]->isConstant());
    EXPECT_EQ(g->outputs()[0]->constant->toInt64Vector(), (std::vector<int64_t>{7}));
    EXPECT_EQ(g->outputs()[0]->constant->rank(), 0);
    ASSERT_TRUE(g->outputs()[1]->isConstant());
    EXPECT_EQ(g->outputs()[1]->constant->toInt64Vector(), (std::vector<int64_t>{7, 6}));
    EXPECT_FALSE(g->outputs()[2]->isConstant());
    EXPECT_FALSE(g->outputs()[3]->isConstant());
}

TEST_F(FoldingTest, BatchNormFoldsIntoConvWithTheSameResults) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 7, 6});
    ITensor* w = constant(randomTensor(DataType::kFLOAT, {5, 3, 3, 3}, -1, 1, 5));
    ITensor* b = constant(randomTensor(DataType::kFLOAT, {5}, -1, 1, 6));
    ITensor* conv = net->addConvolution(*x, *w, b, {1, 1}, {1, 1, 1, 1})->getOutput(0);
    ITensor* gamma = constant(randomTensor(DataType::kFLOAT, {5}, 0.5, 2, 7));
    ITensor* beta = constant(randomTensor(DataType::kFLOAT, {5}, -1, 1, 8));
    ITensor* mean = constant(randomTensor(DataType::kFLOAT, {5}, -1, 1, 9));
    ITensor* var = constant(randomTensor(DataType::kFLOAT, {5}, 0.2, 3, 10));
    LayerAttributes eps;
    eps.setFloat("epsilon", 1e-3f);
    ITensor* y = net->addLayer("BatchNormalization", {conv, gamma, beta, mean, var}, 1, eps)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    BatchNormFolding pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "BatchNormalization"), 0u);
    ASSERT_EQ(g->nodes().size(), 1u);
    EXPECT_EQ(g->outputs()[0]->name, "y");
    std::map<std::string, Tensor> inputs{{"x", randomTensor(DataType::kFLOAT, {2, 3, 7, 6}, -1, 1, 11)}};
    expectSameResultsWithAndWithoutPasses(*builder, *net, inputs, 1e-4, 1e-5);
}

}  // namespace
}  // namespace kiln::test
