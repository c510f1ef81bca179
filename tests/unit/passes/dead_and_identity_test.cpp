#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/dead_layer_elimination.h"
#include "passes/identity_elimination.h"

namespace kiln::test {
namespace {

class DeadAndIdentityTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();
};

TEST_F(DeadAndIdentityTest, RemovesLayersWhoseOutputsAreUnused) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3});
    ITensor* used = net->addLayer("Relu", {x})->getOutput(0);
    net->addLayer("Sigmoid", {x});                                        // dead
    net->addLayer("Tanh", {net->addLayer("Exp", {x})->getOutput(0)});  // dead chain
    net->markOutput(*used);
    DeadLayerElimination pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    ASSERT_EQ(g->nodes().size(), 1u);
    EXPECT_EQ(g->nodes()[0]->opType, "Relu");
    std::map<std::string, Tensor> inputs{{"x", randomTensor(DataType::kFLOAT, {2, 3}, -1, 1, 1)}};
    expectSameResultsWithAndWithoutPasses(*builder, *net, inputs);
}

TEST_F(DeadAndIdentityTest, DropsOptionalOutputsNothingReads) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 8});
    float ones[8], zeros[8];
    for (int i = 0; i < 8; ++i) ones[i] = 1.f + 0.1f * static_cast<float>(i), zeros[i] = 0.05f * static_cast<float>(i);
    ITensor* scale = net->addConstant(Dims{8}, DataType::kFLOAT, ones);
    ITensor* bias = net->addConstant(Dims{8}, DataType::kFLOAT, zeros);
    LayerAttributes axis;
    axis.setInt("axis", -1);
    ILayer* ln = net->addLayer("LayerNormalization", {x, scale, bias}, 3, axis);  // Y, Mean, InvStdDev
    ASSERT_NE(ln, nullptr);
    net->markOutput(*ln->getOutput(0));
    net->markOutput(*ln->getOutput(2));  // InvStdDev is read; Mean is not
    DeadLayerElimination pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    ASSERT_EQ(g->nodes().size(), 1u);
    const Node& node = *g->nodes()[0];
    ASSERT_EQ(node.outputs.size(), 3u);
    EXPECT_NE(node.outputs[0], nullptr);
    EXPECT_EQ(node.outputs[1], nullptr);
    EXPECT_NE(node.outputs[2], nullptr);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {2, 3, 8}, -1, 1, 2)}});
}

TEST_F(DeadAndIdentityTest, RemovesNoOpsButKeepsNamedOutputs) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3});
    ITensor* a = net->addLayer("Identity", {x})->getOutput(0);
    LayerAttributes toFloat;
    toFloat.setInt("to", 1);  // ONNX FLOAT: a Cast to the type it already has
    ITensor* b = net->addLayer("Cast", {a}, 1, toFloat)->getOutput(0);
    int64_t shapeValues[] = {2, 3};
    ITensor* shape = net->addConstant(Dims{2}, DataType::kINT64, shapeValues);
    ITensor* c = net->addLayer("Reshape", {b, shape})->getOutput(0);
    ITensor* d = net->addLayer("Relu", {c})->getOutput(0);
    ITensor* e = net->addLayer("Identity", {d})->getOutput(0);  // produces a network output: stays
    e->setName("result");
    net->markOutput(*e);
    IdentityElimination pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Cast"), 0u);
    EXPECT_EQ(countOps(*g, "Reshape"), 0u);
    EXPECT_EQ(countOps(*g, "Identity"), 1u);
    EXPECT_EQ(g->outputs()[0]->name, "result");
    ASSERT_EQ(g->nodes().size(), 2u);
    EXPECT_EQ(g->nodes()[0]->input(0)->name, "x");  // Relu now reads the input directly
    std::map<std::string, Tensor> inputs{{"x", randomTensor(DataType::kFLOAT, {2, 3}, -1, 1, 2)}};
    expectSameResultsWithAndWithoutPasses(*builder, *net, inputs);
}

}  // namespace
}  // namespace kiln::test
