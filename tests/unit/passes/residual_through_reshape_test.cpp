// A residual Add behind a Reshape of a product goes into the product's epilogue (the residual reshaped to
// the product's rows), where that is exact: a product without an activation, a residual of the Add's
// exact shape. The engine's results match a double-precision reference.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pass_test_util.h"
#include "passes/residual_through_reshape.h"

namespace kiln::test {
namespace {

using ResidualThroughReshapeTest = NetworkTest;

constexpr int64_t kBatch = 2, kSeq = 3, kWidth = 8, kOut = 12;

/// x [rows, width] times w [width, out] plus b, then plus r (same element order), in double precision.
std::vector<double> projectedResidual(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r) {
    const std::vector<double> xs = x.toDoubleVector(), ws = w.toDoubleVector(), bs = b.toDoubleVector(),
                              rs = r.toDoubleVector();
    std::vector<double> y(rs);
    for (int64_t i = 0; i < kBatch * kSeq; ++i)
        for (int64_t j = 0; j < kOut; ++j) {
            double sum = bs[static_cast<size_t>(j)];
            for (int64_t k = 0; k < kWidth; ++k)
                sum += xs[static_cast<size_t>(i * kWidth + k)] * ws[static_cast<size_t>(k * kOut + j)];
            y[static_cast<size_t>(i * kOut + j)] += sum;
        }
    return y;
}

TEST_F(ResidualThroughReshapeTest, TheAddBehindTheProjectionsReshapeBecomesItsResidual) {
    // ViT's attention output after attention-batch-first-output: rows [b * s, width] -> MatMul + bias ->
    // Reshape [b, s, out] -> Add(residual stream [b, s, out]).
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{kBatch * kSeq, kWidth});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{kBatch, kSeq, kOut});
    Tensor w = randomTensor(DataType::kFLOAT, {kWidth, kOut}, -0.5, 0.5, 1);
    Tensor b = randomTensor(DataType::kFLOAT, {kOut}, -0.5, 0.5, 2);
    ITensor* projected = op("Add", {op("MatMul", {x, constant(w)}), constant(b)});
    ITensor* grid = op("Reshape", {projected, ints({kBatch, kSeq, kOut})});
    net->markOutput(*op("Add", {r, grid}));

    auto optimized = runPipeline(net->graph());
    EXPECT_EQ(countOps(*optimized, "Add"), 0u);
    ASSERT_EQ(countOps(*optimized, "FusedMatMul"), 1u);
    for (const auto& n : optimized->nodes())
        if (n->opType == "FusedMatMul") {
            EXPECT_TRUE(n->hasInput(2)) << "the bias stays";
            ASSERT_TRUE(n->hasInput(3));
            EXPECT_EQ(n->input(3)->shape, (SymShape{kBatch * kSeq, kOut}));
        }
    EXPECT_EQ(optimized->outputs()[0]->shape, (SymShape{kBatch, kSeq, kOut}));

    Tensor xs = randomTensor(DataType::kFLOAT, {kBatch * kSeq, kWidth}, -1, 1, 3);
    Tensor rs = randomTensor(DataType::kFLOAT, {kBatch, kSeq, kOut}, -1, 1, 4);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"x", xs}, {"r", rs}}, logger);
    ASSERT_TRUE(run.ok);
    EXPECT_EQ(compareWithReference(run.outputs[0], projectedResidual(xs, w, b, rs), 1e-5, 1e-6), "");
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", xs}, {"r", rs}});
}

TEST_F(ResidualThroughReshapeTest, AnActivationOrABroadcastingAddStays) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{kBatch * kSeq, kWidth});
    ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{kBatch, kSeq, kOut});
    ITensor* row = net->addInput("row", DataType::kFLOAT, Dims{1, kSeq, kOut});
    ITensor* w = constant(randomTensor(DataType::kFLOAT, {kWidth, kOut}, -0.5, 0.5, 5));
    // The residual would have to come before the Relu.
    ITensor* activated = op("Relu", {op("MatMul", {x, w})});
    net->markOutput(*op("Add", {op("Reshape", {activated, ints({kBatch, kSeq, kOut})}), r}));
    // [1, s, out] broadcasts over the batch: no element-for-element residual.
    net->markOutput(*op("Add", {op("Reshape", {op("MatMul", {x, w}), ints({kBatch, kSeq, kOut})}), row}));

    ResidualThroughReshape pass;
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Add"), 2u);
}

}  // namespace
}  // namespace kiln::test
