// Pointwise-chain fusion: which layers join a group and which stop it, the program it writes, and
// the fused layer's values against a double-precision reference and against the unfused engine.

#include <gtest/gtest.h>

#include <cmath>

#include "ir/pointwise_program.h"
#include "pass_test_util.h"
#include "passes/pointwise_fusion.h"

namespace kiln::test {
namespace {

class PointwiseFusionTest : public NetworkTest {
protected:
    const Node* only(const Graph& g, const std::string& type) {
        const Node* found = nullptr;
        for (const auto& n : g.nodes())
            if (n->opType == type) {
                EXPECT_EQ(found, nullptr) << "several " << type;
                found = n.get();
            }
        return found;
    }
    /// Builds the network (passes on) and runs it.
    Tensor runOptimized(const std::map<std::string, Tensor>& inputs) {
        auto config = builder->createBuilderConfig();
        EngineRun run = buildAndRun(*builder, *net, *config, inputs, logger);
        EXPECT_TRUE(run.ok);
        return run.ok ? run.outputs[0] : Tensor();
    }
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST_F(PointwiseFusionTest, ScaledSwishWithPerChannelBiasBecomesOneLayer) {
    // y = z * sigmoid(z), z = x * 0.5 + bias[c]: x read twice, a scalar and a [C,1,1] bias broadcast.
    const int64_t n = 2, c = 3, h = 40, w = 33;  // > one 512-element block per row, odd widths
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{n, c, h, w});
    Tensor bias = randomTensor(DataType::kFLOAT, {c, 1, 1}, -1, 1, 2);
    ITensor* z = op("Add", {op("Mul", {x, scalar(0.5f)}), constant(bias)});
    ITensor* y = op("Mul", {z, op("Sigmoid", {z})});
    net->markOutput(*y);

    PointwiseFusion pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    const Node* fused = only(*g, "FusedPointwise");
    ASSERT_NE(fused, nullptr);
    EXPECT_EQ(fused->domain, "kiln");
    EXPECT_EQ(fused->inputs.size(), 3u);  // x, 0.5, bias: each once
    auto program = PointwiseProgram::fromNode(*fused);
    ASSERT_TRUE(program.isOk()) << program.status().message();
    EXPECT_EQ(program->code.size(), 4u);
    EXPECT_EQ(fused->sourceNodes.size(), 4u);

    Tensor in = randomTensor(DataType::kFLOAT, {n, c, h, w}, -4, 4, 3);
    Tensor out = runOptimized({{"x", in}});
    std::vector<double> expected(static_cast<size_t>(in.elementCount()));
    for (int64_t i = 0; i < in.elementCount(); ++i) {
        int64_t channel = (i / (h * w)) % c;
        double zi = double(in.data<float>()[i]) * 0.5 + bias.data<float>()[channel];
        expected[static_cast<size_t>(i)] = zi * sigmoid(zi);
    }
    EXPECT_EQ(compareWithReference(out, expected, 1e-5, 1e-6), "");
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", in}}, 0, 0);  // bit-identical
}

TEST_F(PointwiseFusionTest, AValueReadOutsideTheChainEndsTheGroup) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4, 8});
    ITensor* a = op("Relu", {x});
    ITensor* b = op("Exp", {op("Neg", {a})});
    ITensor* y = op("Add", {a, b});  // a is read twice, both inside
    LayerAttributes axis;
    axis.setInt("axis", -1);
    ITensor* side = op("Softmax", {b}, axis);  // b is read outside as well
    net->markOutput(*y);
    net->markOutput(*side);

    PointwiseFusion pass;
    auto g = runPass(net->graph(), pass);
    // Growing from y = Add(a, b): b is read by Softmax too, so Exp stays outside; a is read only
    // by Add and Neg, and Neg is outside, so Relu stays outside as well. Exp(Neg(a)) is a group
    // of its own (b's readers are Add and Softmax, neither inside it); Relu and Add stay single.
    EXPECT_EQ(countOps(*g, "Softmax"), 1u);
    EXPECT_EQ(countOps(*g, "Relu"), 1u);
    EXPECT_EQ(countOps(*g, "Add"), 1u);
    const Node* fused = only(*g, "FusedPointwise");
    ASSERT_NE(fused, nullptr);
    EXPECT_EQ(fused->sourceNodes.size(), 2u);  // Neg + Exp
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {4, 8}, -2, 2, 4)}},
                                          0, 0);
}

TEST_F(PointwiseFusionTest, NetworkOutputsAndNonFloatLayersAreNotAbsorbed) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{6});
    ITensor* t = op("Tanh", {x});
    net->markOutput(*t);  // an output of the network cannot become an inner value
    ITensor* y = op("Sqrt", {op("Abs", {t})});
    net->markOutput(*y);
    PointwiseFusion pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Tanh"), 1u);
    const Node* fused = only(*g, "FusedPointwise");
    ASSERT_NE(fused, nullptr);
    EXPECT_EQ(fused->sourceNodes.size(), 2u);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {6}, -2, 2, 5)}}, 0, 0);
}

TEST_F(PointwiseFusionTest, BroadcastInsideTheChainMatchesAReference) {
    // The ECA / squeeze-excitation gate: sigmoid of a [N,C,1,1] tensor times the [N,C,H,W] one,
    // plus Clip with constant bounds and LeakyRelu parameters carried into the program.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 7, 9});
    ITensor* s = net->addInput("s", DataType::kFLOAT, Dims{2, 5, 1, 1});
    LayerAttributes leaky;
    leaky.setFloat("alpha", 0.2f);
    ITensor* gate = op("Sigmoid", {op("Clip", {s, scalar(-1.5f), scalar(1.5f)})});
    ITensor* y = op("LeakyRelu", {op("Mul", {x, gate})}, leaky);
    net->markOutput(*y);
    PointwiseFusion pass;
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->nodes().size(), 1u);
    EXPECT_EQ(g->nodes()[0]->inputs.size(), 2u);  // Clip's bounds live in the program

    Tensor xv = randomTensor(DataType::kFLOAT, {2, 5, 7, 9}, -3, 3, 6);
    Tensor sv = randomTensor(DataType::kFLOAT, {2, 5, 1, 1}, -3, 3, 7);
    Tensor out = runOptimized({{"x", xv}, {"s", sv}});
    std::vector<double> expected(static_cast<size_t>(xv.elementCount()));
    for (int64_t i = 0; i < xv.elementCount(); ++i) {
        double gv = sigmoid(std::min(1.5, std::max(-1.5, double(sv.data<float>()[i / 63]))));
        double v = double(xv.data<float>()[i]) * gv;
        expected[static_cast<size_t>(i)] = v < 0 ? 0.2 * v : v;
    }
    EXPECT_EQ(compareWithReference(out, expected, 1e-5, 1e-6), "");
}

TEST_F(PointwiseFusionTest, MalformedProgramsAreRefusedByInference) {
    Graph g;
    Value* x = g.addInput("x", DataType::kFLOAT, {Dim(3)});
    Node* node = g.addNode("FusedPointwise", "fused", {x}, {"y"}, 1);
    node->domain = "kiln";
    PointwiseProgram program;
    program.numInputs = 1;
    program.code.push_back({PointwiseOp::kAdd, 0, 2});  // slot 2 is not defined yet
    program.writeTo(*node);
    EXPECT_FALSE(PointwiseProgram::fromNode(*node).isOk());
    node->attrs.set("ops", std::vector<std::string>{"Frobnicate"});
    auto bad = PointwiseProgram::fromNode(*node);
    ASSERT_FALSE(bad.isOk());
    EXPECT_NE(bad.status().message().find("Frobnicate"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace kiln::test
