// ONNX Gemm becomes MatMul (+ Add) exactly where that computes the same: constant B (transposed at build
// time for transB), alpha 1, no transA, C absent or with beta 1. The fusions after it then give the product
// its bias, residual and activation epilogue, and the engine's results match a double-precision Gemm.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "pass_test_util.h"
#include "passes/gemm_to_matmul.h"

namespace kiln::test {
namespace {

using GemmToMatMulTest = NetworkTest;

/// A [m, k] times B ([k, n], or [n, k] read transposed) plus C broadcast to [m, n] ([n], [m, n], [m, 1] or
/// one element; none when null), in double precision.
std::vector<double> gemmReference(const Tensor& a, const Tensor& b, bool transB, const Tensor* c) {
    const int64_t m = a.shape()[0], k = a.shape()[1], n = transB ? b.shape()[0] : b.shape()[1];
    const std::vector<double> as = a.toDoubleVector(), bs = b.toDoubleVector();
    const std::vector<double> cs = c ? c->toDoubleVector() : std::vector<double>{};
    std::vector<double> y(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < k; ++p)
                sum += as[static_cast<size_t>(i * k + p)] * bs[static_cast<size_t>(transB ? j * k + p : p * n + j)];
            if (c) {
                const Shape& s = c->shape();
                const bool rows = s.size() == 2 && s[0] == m, columns = !s.empty() && s.back() == n;
                sum += cs[static_cast<size_t>((rows ? i * (columns ? n : 1) : 0) + (columns ? j : 0))];
            }
            y[static_cast<size_t>(i * n + j)] = sum;
        }
    return y;
}

LayerAttributes gemmAttrs(int64_t transB, float alpha = 1.f, float beta = 1.f, int64_t transA = 0) {
    LayerAttributes attrs;
    attrs.setInt("transA", transA).setInt("transB", transB).setFloat("alpha", alpha).setFloat("beta", beta);
    return attrs;
}

TEST_F(GemmToMatMulTest, APoolerGemmBecomesOneFusedProductWithItsBiasAndTanh) {
    // BERT's pooler: Gemm(x, W^T, b, transB = 1), then Tanh.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{6, 24});
    Tensor w = randomTensor(DataType::kFLOAT, {16, 24}, -0.4, 0.4, 1);  // [N, K]
    Tensor b = randomTensor(DataType::kFLOAT, {16}, -0.5, 0.5, 2);
    ITensor* y = op("Tanh", {op("Gemm", {x, constant(w), constant(b)}, gemmAttrs(1))});
    net->markOutput(*y);

    GemmToMatMul pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(countOps(*g, "Gemm"), 0u);
    EXPECT_EQ(countOps(*g, "MatMul"), 1u);
    EXPECT_EQ(countOps(*g, "Add"), 1u);
    for (const auto& n : g->nodes())
        if (n->opType == "MatMul") {
            ASSERT_TRUE(n->input(1)->isConstant());
            const Tensor& transposed = *n->input(1)->constant;
            ASSERT_EQ(transposed.shape(), (Shape{24, 16}));
            // The weights transposed: element (k, n) of the new constant is element (n, k) of W.
            for (int64_t k : {0, 5, 23})
                for (int64_t j : {0, 7, 15})
                    EXPECT_EQ(transposed.data<float>()[k * 16 + j], w.data<float>()[j * 24 + k]);
        }

    auto optimized = runPipeline(net->graph());
    EXPECT_EQ(countOps(*optimized, "Gemm") + countOps(*optimized, "Add") + countOps(*optimized, "Tanh"), 0u);
    ASSERT_EQ(countOps(*optimized, "FusedMatMul"), 1u);
    for (const auto& n : optimized->nodes())
        if (n->opType == "FusedMatMul") EXPECT_EQ(n->attrs.getString("activation", ""), "Tanh");

    Tensor input = randomTensor(DataType::kFLOAT, {6, 24}, -1, 1, 3);
    std::vector<double> reference = gemmReference(input, w, true, &b);
    for (double& v : reference) v = std::tanh(v);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"x", input}}, logger);
    ASSERT_TRUE(run.ok);
    EXPECT_EQ(compareWithReference(run.outputs[0], reference, 1e-5, 1e-6), "");
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", input}});
}

TEST_F(GemmToMatMulTest, AResidualCAndABroadcastCBecomeAdds) {
    // C of the output's shape (a residual, here a network input) and C of shape [M, 1]; B not transposed.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{5, 8});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{5, 12});
    Tensor w = randomTensor(DataType::kFLOAT, {8, 12}, -0.5, 0.5, 4);
    Tensor column = randomTensor(DataType::kFLOAT, {5, 1}, -1, 1, 5);
    ITensor* withResidual = op("Gemm", {x, constant(w), r}, gemmAttrs(0));
    ITensor* withColumn = op("Gemm", {x, constant(w), constant(column)}, gemmAttrs(0));
    net->markOutput(*withResidual);
    net->markOutput(*withColumn);

    GemmToMatMul pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Gemm"), 0u);
    EXPECT_EQ(countOps(*g, "Add"), 2u);
    // transB = 0 reads W as it is: no transposed copy.
    for (const auto& n : g->nodes())
        if (n->opType == "MatMul") EXPECT_EQ(n->input(1)->constant->shape(), (Shape{8, 12}));
    // The residual goes into the product's epilogue; the [M, 1] column stays a broadcasting Add.
    auto optimized = runPipeline(net->graph());
    size_t withC = 0;
    for (const auto& n : optimized->nodes()) withC += n->opType == "FusedMatMul" && n->hasInput(3);
    EXPECT_EQ(withC, 1u);

    Tensor xs = randomTensor(DataType::kFLOAT, {5, 8}, -1, 1, 6);
    Tensor rs = randomTensor(DataType::kFLOAT, {5, 12}, -1, 1, 7);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"x", xs}, {"r", rs}}, logger);
    ASSERT_TRUE(run.ok);
    ASSERT_EQ(run.outputs.size(), 2u);
    EXPECT_EQ(compareWithReference(run.outputs[0], gemmReference(xs, w, false, &rs), 1e-5, 1e-6), "");
    EXPECT_EQ(compareWithReference(run.outputs[1], gemmReference(xs, w, false, &column), 1e-5, 1e-6), "");
}

TEST_F(GemmToMatMulTest, ARowShapedCIsTheProductsBias) {
    // C as [1, N] (a 2-D bias, as some exporters write it): matmul fusion takes it as the bias row [N].
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{5, 8});
    Tensor w = randomTensor(DataType::kFLOAT, {8, 12}, -0.5, 0.5, 12);
    Tensor c = randomTensor(DataType::kFLOAT, {1, 12}, -1, 1, 13);
    net->markOutput(*op("Relu", {op("Gemm", {x, constant(w), constant(c)}, gemmAttrs(0))}));

    auto optimized = runPipeline(net->graph());
    EXPECT_EQ(countOps(*optimized, "Add") + countOps(*optimized, "Relu"), 0u);
    ASSERT_EQ(countOps(*optimized, "FusedMatMul"), 1u);
    for (const auto& n : optimized->nodes())
        if (n->opType == "FusedMatMul") {
            ASSERT_TRUE(n->hasInput(2));
            EXPECT_EQ(n->input(2)->constant->shape(), (Shape{12}));
        }

    Tensor xs = randomTensor(DataType::kFLOAT, {5, 8}, -1, 1, 14);
    std::vector<double> reference = gemmReference(xs, w, false, &c);
    for (double& v : reference) v = std::max(v, 0.0);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"x", xs}}, logger);
    ASSERT_TRUE(run.ok);
    EXPECT_EQ(compareWithReference(run.outputs[0], reference, 1e-5, 1e-6), "");
}

TEST_F(GemmToMatMulTest, TiedWeightsAreTransposedOnce) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4, 8});
    ITensor* z = net->addInput("z", DataType::kFLOAT, Dims{3, 8});
    ITensor* w = constant(randomTensor(DataType::kFLOAT, {16, 8}, -0.5, 0.5, 8));
    net->markOutput(*op("Gemm", {x, w}, gemmAttrs(1)));
    net->markOutput(*op("Gemm", {z, w}, gemmAttrs(1)));

    GemmToMatMul pass;
    auto g = runPass(net->graph(), pass);
    std::vector<const Value*> weights;
    for (const auto& n : g->nodes())
        if (n->opType == "MatMul") weights.push_back(n->input(1));
    ASSERT_EQ(weights.size(), 2u);
    EXPECT_EQ(weights[0], weights[1]);
}

TEST_F(GemmToMatMulTest, WeightsAnEmbeddingAlsoReadsAreNotCopied) {
    // A language model's tied weights: the embedding Gather reads W [vocab, width] and the output
    // projection Gemm(h, W, transB = 1) reads it transposed. A transposed copy would hold W twice: that
    // Gemm stays. The same W read untransposed (transB = 0) needs no copy and becomes a MatMul.
    ITensor* ids = net->addInput("ids", DataType::kINT64, Dims{3});
    ITensor* w = constant(randomTensor(DataType::kFLOAT, {10, 10}, -0.5, 0.5, 11));
    ITensor* h = op("Gather", {w, ids}, LayerAttributes().setInt("axis", 0));
    net->markOutput(*op("Gemm", {h, w}, gemmAttrs(1)));
    net->markOutput(*op("Gemm", {h, w}, gemmAttrs(0)));

    GemmToMatMul pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Gemm"), 1u);
    EXPECT_EQ(countOps(*g, "MatMul"), 1u);
    const Value* embedding = nullptr;
    for (const auto& n : g->nodes())
        if (n->opType == "Gather") embedding = n->input(0);
    for (const auto& n : g->nodes()) {
        if (n->opType == "Gemm") EXPECT_EQ(n->attrs.getInt("transB", 0), 1);
        if (n->opType == "MatMul") EXPECT_EQ(n->input(1), embedding);
    }
    for (const auto& v : g->values()) EXPECT_TRUE(!v || v->name.find("_transposed") == std::string::npos) << v->name;
}

TEST_F(GemmToMatMulTest, GemmsAMatMulWouldComputeDifferentlyStay) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4, 8});
    ITensor* xt = net->addInput("xt", DataType::kFLOAT, Dims{8, 4});
    ITensor* runtimeB = net->addInput("b", DataType::kFLOAT, Dims{8, 6});
    ITensor* w = constant(randomTensor(DataType::kFLOAT, {8, 6}, -0.5, 0.5, 9));
    ITensor* c = constant(randomTensor(DataType::kFLOAT, {6}, -0.5, 0.5, 10));
    net->markOutput(*op("Gemm", {x, w, c}, gemmAttrs(0, 2.f)));         // alpha 2
    net->markOutput(*op("Gemm", {x, w, c}, gemmAttrs(0, 1.f, 0.5f)));   // beta 0.5
    net->markOutput(*op("Gemm", {xt, w, c}, gemmAttrs(0, 1.f, 1.f, 1)));  // transA
    net->markOutput(*op("Gemm", {x, runtimeB, c}, gemmAttrs(0)));        // B not a constant

    GemmToMatMul pass;
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Gemm"), 4u);
    EXPECT_EQ(countOps(*g, "MatMul"), 0u);
}

}  // namespace
}  // namespace kiln::test
