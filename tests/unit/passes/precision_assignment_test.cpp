// The weakly typed FP16 assignment (passes/precision_assignment.h), with a stand-in backend whose
// support is known: which layers get FP16, where reformat layers go, what happens to weights, graph
// outputs and integer-derived values.

#include <gtest/gtest.h>

#include "common/half.h"
#include "pass_test_util.h"
#include "passes/matmul_fusion.h"
#include "passes/pointwise_fusion.h"
#include "passes/precision_assignment.h"

namespace kiln::test {
namespace {

/// A backend that runs every layer in FP16 except the op types listed.
BackendSupport allBut(std::set<std::string> fp32Only) {
    return [fp32Only](const Node& node, std::string* reason) {
        for (const Value* v : node.inputs)
            if (v && v->dtype == DataType::kHALF && fp32Only.count(node.opType)) {
                *reason = node.opType + " has no FP16 kernel here";
                return false;
            }
        return true;
    };
}

/// The first node of type `op` that is not a reformat layer.
const Node* producerOf(const Graph& g, const std::string& op) {
    for (const auto& n : g.nodes())
        if (n->opType == op && (n->sourceNodes.empty() || n->sourceNodes[0].rfind("reformat", 0) != 0)) return n.get();
    return nullptr;
}

class PrecisionAssignmentTest : public NetworkTest {};

TEST_F(PrecisionAssignmentTest, SupportedLayersRunInFp16WithReformatsAtTheEdges) {
    // x -> MatMul(W) -> Relu -> Softmax (FP32 only here) -> y
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 4});
    Tensor w = randomTensor(DataType::kFLOAT, {4, 3}, -1, 1, 1);
    ITensor* h = op("Relu", {op("MatMul", {x, constant(w)})});
    ITensor* y = op("Softmax", {h});
    y->setName("y");
    net->markOutput(*y);

    PrecisionAssignment pass(DataType::kHALF, allBut({"Softmax"}));
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    ASSERT_TRUE(changed);
    EXPECT_EQ(producerOf(*g, "MatMul")->outputs[0]->dtype, DataType::kHALF);
    EXPECT_EQ(producerOf(*g, "Relu")->outputs[0]->dtype, DataType::kHALF);
    EXPECT_EQ(producerOf(*g, "Softmax")->inputs[0]->dtype, DataType::kFLOAT);
    EXPECT_EQ(producerOf(*g, "Softmax")->outputs[0]->dtype, DataType::kFLOAT);
    // x -> FP16 before the MatMul, Relu's output -> FP32 before the Softmax.
    EXPECT_EQ(countOps(*g, "Cast"), 2u);
    const Value* weights = producerOf(*g, "MatMul")->inputs[1];
    ASSERT_TRUE(weights->isConstant());
    EXPECT_EQ(weights->dtype, DataType::kHALF);
    EXPECT_EQ(weights->constant->dtype(), DataType::kHALF);
    for (int64_t i = 0; i < w.elementCount(); ++i)
        EXPECT_EQ(static_cast<float>(weights->constant->data<Half>()[i]), static_cast<float>(Half(w.data<float>()[i])));
    ASSERT_EQ(g->outputs().size(), 1u);
    EXPECT_EQ(g->outputs()[0]->name, "y");
    EXPECT_EQ(g->outputs()[0]->dtype, DataType::kFLOAT);
    EXPECT_TRUE(g->topologicalSort());
}

TEST_F(PrecisionAssignmentTest, AnFp16GraphOutputKeepsItsNameAndTypeThroughAReformat) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3});
    ITensor* y = op("Sigmoid", {op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {3, 3}, -1, 1, 2))})});
    y->setName("probability");
    net->markOutput(*y);
    PrecisionAssignment pass(DataType::kHALF, allBut({}));
    auto g = runPass(net->graph(), pass);
    ASSERT_EQ(g->outputs().size(), 1u);
    const Value* out = g->outputs()[0];
    EXPECT_EQ(out->name, "probability");
    EXPECT_EQ(out->dtype, DataType::kFLOAT);
    ASSERT_NE(out->producer, nullptr);
    EXPECT_EQ(out->producer->opType, "Cast");
    EXPECT_EQ(out->producer->inputs[0]->dtype, DataType::kHALF);
    EXPECT_EQ(producerOf(*g, "Sigmoid")->outputs[0]->dtype, DataType::kHALF);
}

TEST_F(PrecisionAssignmentTest, AFusedMatMulResidualTakesTheOutputsPrecision) {
    // h + (h W + bias) as one FusedMatMul(h, W, bias, Z = h), and a second one whose residual r is a graph
    // input: both read their residual in FP16, r through a reformat.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 16});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{2, 5, 16});
    ITensor* h = op("Relu", {x});
    auto projection = [&](ITensor* in, ITensor* residual, uint32_t seed) {
        ITensor* mm = op("MatMul", {in, constant(randomTensor(DataType::kFLOAT, {16, 16}, -1, 1, seed))});
        return op("Add", {op("Add", {mm, constant(randomTensor(DataType::kFLOAT, {16}, -1, 1, seed + 1))}), residual});
    };
    net->markOutput(*projection(projection(h, h, 10), r, 20));
    MatMulFusion fusion;
    auto fused = runPass(net->graph(), fusion);
    PrecisionAssignment pass(DataType::kHALF, allBut({}));
    auto g = runPass(*fused, pass);
    size_t withResidual = 0;
    for (const auto& n : g->nodes()) {
        if (n->opType != "FusedMatMul") continue;
        ASSERT_TRUE(n->hasInput(3)) << n->name;
        ++withResidual;
        EXPECT_EQ(n->outputs[0]->dtype, DataType::kHALF) << n->name;
        EXPECT_EQ(n->input(3)->dtype, DataType::kHALF) << n->name;
    }
    EXPECT_EQ(withResidual, 2u);
    // x and r to FP16, the result back to FP32.
    EXPECT_EQ(countOps(*g, "Cast"), 3u);
}

TEST_F(PrecisionAssignmentTest, ValuesComputedFromIntegersKeepFp32) {
    // scores + (1 - float(mask)) * -10000: the mask arithmetic stays FP32, the Add gets FP16.
    ITensor* q = net->addInput("q", DataType::kFLOAT, Dims{2, 4});
    ITensor* scores = op("MatMul", {q, constant(randomTensor(DataType::kFLOAT, {4, 5}, -1, 1, 3))});
    ITensor* mask = net->addInput("mask", DataType::kINT64, Dims{2, 5});
    LayerAttributes toFloat;
    toFloat.setInt("to", 1);
    ITensor* m = op("Cast", {mask}, toFloat);
    ITensor* bias = op("Mul", {op("Sub", {scalar(1.f), m}), scalar(-10000.f)});
    ITensor* y = op("Add", {scores, bias});
    net->markOutput(*y);
    PrecisionAssignment pass(DataType::kHALF, allBut({}));
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(producerOf(*g, "Sub")->outputs[0]->dtype, DataType::kFLOAT);
    EXPECT_EQ(producerOf(*g, "Mul")->outputs[0]->dtype, DataType::kFLOAT);
    EXPECT_EQ(producerOf(*g, "Add")->outputs[0]->dtype, DataType::kHALF);
}

TEST_F(PrecisionAssignmentTest, SensitiveOpsAndTypeFixingCastsKeepFp32AndWeightsSaturate) {
    ITensor* in = net->addInput("x", DataType::kFLOAT, Dims{2, 3});
    ITensor* x = op("MatMul", {in, constant(randomTensor(DataType::kFLOAT, {3, 3}, -1, 1, 4))});
    Tensor big = Tensor::allocate(DataType::kFLOAT, {3});
    big.data<float>()[0] = 1e6f;
    big.data<float>()[1] = -1e6f;
    big.data<float>()[2] = 0.5f;
    ITensor* scaled = op("Mul", {x, constant(big)});
    ITensor* sum = op("ReduceSum", {scaled, ints({1})});
    LayerAttributes toDouble;
    toDouble.setInt("to", 11);
    ITensor* d = op("Cast", {sum}, toDouble);
    net->markOutput(*d);
    PrecisionAssignment pass(DataType::kHALF, allBut({}));
    auto g = runPass(net->graph(), pass);
    const Node* mul = producerOf(*g, "Mul");
    EXPECT_EQ(mul->outputs[0]->dtype, DataType::kHALF);
    const Tensor& weights = *mul->inputs[1]->constant;
    ASSERT_EQ(weights.dtype(), DataType::kHALF);
    EXPECT_EQ(static_cast<float>(weights.data<Half>()[0]), 65504.f);
    EXPECT_EQ(static_cast<float>(weights.data<Half>()[1]), -65504.f);
    EXPECT_EQ(static_cast<float>(weights.data<Half>()[2]), 0.5f);
    EXPECT_EQ(producerOf(*g, "ReduceSum")->outputs[0]->dtype, DataType::kFLOAT);
    // The model's Cast to double keeps its FP32 input: reading FP16 would only round first.
    EXPECT_EQ(producerOf(*g, "Cast")->inputs[0]->dtype, DataType::kFLOAT);
    size_t reformats = 0;
    for (const auto& n : g->nodes())
        if (n->opType == "Cast" && n->sourceNodes.size() == 1 && n->sourceNodes[0].rfind("reformat", 0) == 0) ++reformats;
    EXPECT_EQ(reformats, 2u);  // x -> FP16 for the MatMul, the Mul's output -> FP32 for the ReduceSum
}

TEST_F(PrecisionAssignmentTest, PointwiseLayersBetweenFp32LayersKeepFp32) {
    // Conv (FP32 only here) -> Relu -> Add(residual): reformats around the Relu and the Add would cost
    // more than FP16 saves on them, so nothing changes.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 2, 4, 4});
    ITensor* c = op("Conv", {x, constant(randomTensor(DataType::kFLOAT, {2, 2, 1, 1}, -1, 1, 5))});
    ITensor* y = op("Add", {op("Relu", {c}), x});
    net->markOutput(*y);
    PrecisionAssignment pass(DataType::kHALF, allBut({"Conv"}));
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Cast"), 0u);
}

TEST_F(PrecisionAssignmentTest, AFusedPointwiseChainRunsInFp16AfterAnFp16Layer) {
    // MatMul -> Mul(per-column scale) -> Tanh: the pointwise fusion makes the chain one FP32
    // FusedPointwise; its program computes in float whatever it stores, so it runs in FP16 after the
    // FP16 MatMul, its scale converted, with one reformat back to FP32 at the graph output.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 4});
    ITensor* m = op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {4, 3}, -1, 1, 7))});
    ITensor* y = op("Tanh", {op("Mul", {m, constant(randomTensor(DataType::kFLOAT, {3}, 0.5f, 2, 8))})});
    y->setName("y");
    net->markOutput(*y);

    PrecisionAssignment precision(DataType::kHALF, allBut({}));
    PointwiseFusion fusion;
    auto g = runOnInferredClone(net->graph(), [&](Graph& graph, PassContext& ctx) {
        auto fused = fusion.run(graph, ctx);
        ASSERT_TRUE(fused.isOk() && fused.value());
        auto reduced = precision.run(graph, ctx);
        ASSERT_TRUE(reduced.isOk() && reduced.value()) << reduced.status().message();
    });
    const Node* chain = producerOf(*g, "FusedPointwise");
    ASSERT_NE(chain, nullptr);
    for (const Value* in : chain->inputs) EXPECT_EQ(in->dtype, DataType::kHALF) << in->name;
    EXPECT_EQ(chain->outputs[0]->dtype, DataType::kHALF);
    EXPECT_EQ(countOps(*g, "Cast"), 2u);  // x to FP16, y back to FP32
    EXPECT_EQ(g->outputs()[0]->dtype, DataType::kFLOAT);
}

TEST_F(PrecisionAssignmentTest, ShapeReadsAnFp16ValueWithoutAReformat) {
    // x [batch, 4] -> MatMul -> Relu -> y, and Reshape(Relu's output, [Shape(x)[0] ...]) reads its shape:
    // the dynamic batch keeps the Shape at run time; it must not cost a reformat of Relu's output.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 4});
    ITensor* h = op("Relu", {op("MatMul", {x, constant(randomTensor(DataType::kFLOAT, {4, 6}, -1, 1, 2))})});
    ITensor* sizes = op("Shape", {h});
    ITensor* count = op("Size", {h});
    net->markOutput(*op("Reshape", {h, sizes}));
    net->markOutput(*count);
    PrecisionAssignment pass(DataType::kHALF, allBut({}));
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(producerOf(*g, "Shape")->inputs[0]->dtype, DataType::kHALF);
    EXPECT_EQ(producerOf(*g, "Size")->inputs[0]->dtype, DataType::kHALF);
    // x -> FP16 before the MatMul, the Reshape's output -> FP32 for the engine's output; none for Shape.
    EXPECT_EQ(countOps(*g, "Cast"), 2u);
}

TEST_F(PrecisionAssignmentTest, ABackendWithoutFp16KernelsChangesNothing) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3});
    net->markOutput(*op("Tanh", {x}));
    PrecisionAssignment pass(DataType::kHALF, allBut({"Tanh"}));
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Cast"), 0u);
}

}  // namespace
}  // namespace kiln::test
