#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/batchnorm_folding.h"
#include "passes/constant_folding.h"
#include "passes/shape_folding.h"

namespace kiln::test {
namespace {

class FoldingTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    ITensor* constant(const Tensor& t) {
        Dims d;
        d.nbDims = static_cast<int32_t>(t.rank());
        for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = t.shape()[static_cast<size_t>(i)];
        return net->addConstant(d, t.dtype(), t.data());
    }
};

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
