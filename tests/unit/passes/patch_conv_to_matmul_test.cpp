// Patch-embedding convolutions (kernel == stride) become Reshape / Transpose / MatMul: the rewrite
// fires exactly where it is exact, and the engine gives the convolution's results.

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>

#include "pass_test_util.h"
#include "passes/patch_conv_to_matmul.h"
#include "passes/pipeline.h"

namespace kiln::test {
namespace {

using PatchConvTest = NetworkTest;

/// Conv of NCHW `x` with OIHW `w` (+ `b`), kernel == stride, no padding, in double precision.
std::vector<double> patchConvReference(const Tensor& x, const Tensor& w, const Tensor* b) {
    const int64_t n = x.shape()[0], c = x.shape()[1], height = x.shape()[2], width = x.shape()[3];
    const int64_t k = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3];
    const int64_t h = height / kh, wo = width / kw;
    std::vector<double> xs = x.toDoubleVector(), ws = w.toDoubleVector(), bs(static_cast<size_t>(k), 0.0);
    if (b) bs = b->toDoubleVector();
    std::vector<double> y(static_cast<size_t>(n * k * h * wo));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t o = 0; o < k; ++o)
            for (int64_t py = 0; py < h; ++py)
                for (int64_t px = 0; px < wo; ++px) {
                    double acc = bs[static_cast<size_t>(o)];
                    for (int64_t ci = 0; ci < c; ++ci)
                        for (int64_t dy = 0; dy < kh; ++dy)
                            for (int64_t dx = 0; dx < kw; ++dx)
                                acc += xs[static_cast<size_t>(((i * c + ci) * height + py * kh + dy) * width + px * kw + dx)] *
                                       ws[static_cast<size_t>(((o * c + ci) * kh + dy) * kw + dx)];
                    y[static_cast<size_t>(((i * k + o) * h + py) * wo + px)] = acc;
                }
    return y;
}

LayerAttributes convAttrs(std::vector<int64_t> strides, std::vector<int64_t> pads = {0, 0, 0, 0},
                          std::vector<int64_t> dilations = {1, 1}, int64_t group = 1) {
    LayerAttributes a;
    a.setInts("strides", strides).setInts("pads", pads).setInts("dilations", dilations).setInt("group", group);
    return a;
}

TEST_F(PatchConvTest, PatchifyWithBiasBecomesOneGemm) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 32, 48});
    Tensor w = randomTensor(DataType::kFLOAT, {16, 3, 8, 8}, -0.5, 0.5, 1);
    Tensor b = randomTensor(DataType::kFLOAT, {16}, -1, 1, 2);
    ITensor* y = op("Conv", {x, constant(w), constant(b)}, convAttrs({8, 8}));
    net->markOutput(*y);

    PatchConvToMatMul pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(countOps(*g, "Conv"), 0u);
    EXPECT_EQ(countOps(*g, "MatMul"), 1u);
    EXPECT_EQ(countOps(*g, "Add"), 1u);
    EXPECT_EQ(countOps(*g, "Reshape"), 3u);
    EXPECT_EQ(countOps(*g, "Transpose"), 2u);
    for (const auto& n : g->nodes())
        if (n->opType == "MatMul") {
            ASSERT_TRUE(n->input(1)->isConstant());
            EXPECT_EQ(n->input(1)->constant->shape(), (Shape{3 * 8 * 8, 16}));
            EXPECT_EQ(n->output(0)->shape, (SymShape{2, 24, 16}));
        }
    // The network's output is still the value the Conv produced, now from the last Transpose.
    const Value* out = g->outputs()[0];
    ASSERT_NE(out->producer, nullptr);
    EXPECT_EQ(out->producer->opType, "Transpose");
    EXPECT_EQ(out->shape, (SymShape{2, 16, 4, 6}));

    // In the full pipeline matmul fusion then takes the bias into the GEMM.
    auto optimized = runPipeline(net->graph());
    EXPECT_EQ(countOps(*optimized, "Conv") + countOps(*optimized, "FusedConv"), 0u);
    EXPECT_EQ(countOps(*optimized, "FusedMatMul"), 1u);
    EXPECT_EQ(countOps(*optimized, "Add"), 0u);

    Tensor input = randomTensor(DataType::kFLOAT, {2, 3, 32, 48}, -1, 1, 3);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", input}}, 1e-4, 1e-5);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"x", input}}, logger);
    ASSERT_TRUE(run.ok);
    EXPECT_EQ(compareWithReference(run.outputs[0], patchConvReference(input, w, &b), 1e-4, 1e-5), "");
}

TEST_F(PatchConvTest, PatchifyWithoutBiasAndDynamicBatch) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 3, 16, 20});
    Tensor w = randomTensor(DataType::kFLOAT, {8, 3, 4, 4}, -0.5, 0.5, 4);
    ITensor* y = op("Relu", {op("Conv", {x, constant(w)}, convAttrs({4, 4}))});
    net->markOutput(*y);

    PatchConvToMatMul pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(countOps(*g, "Conv"), 0u);
    EXPECT_EQ(countOps(*g, "MatMul"), 1u);
    EXPECT_EQ(countOps(*g, "Add"), 0u);
    // The batch stays the input's symbolic batch through the rewrite, up to the Relu's output.
    const Dim& batch = g->inputs()[0]->shape[0];
    EXPECT_FALSE(batch.isKnown());
    EXPECT_EQ(g->outputs()[0]->shape, (SymShape{batch, 8, 4, 5}));
    for (const auto& n : g->nodes())
        if (n->opType == "Reshape") EXPECT_EQ(n->input(1)->constant->toInt64Vector()[0], -1);

    for (int64_t n : {1, 3}) {
        Tensor input = randomTensor(DataType::kFLOAT, {n, 3, 16, 20}, -1, 1, 5 + static_cast<uint32_t>(n));
        expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", input}}, 1e-4, 1e-5);
    }
}

TEST_F(PatchConvTest, VitTokenFlatteningIsTheGemmOutput) {
    // torchvision's ViT: conv_proj, then reshape(n, hidden, h * w) and permute(0, 2, 1), dynamic batch.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 3, 32, 48});
    Tensor w = randomTensor(DataType::kFLOAT, {16, 3, 8, 8}, -0.5, 0.5, 20);
    Tensor b = randomTensor(DataType::kFLOAT, {16}, -1, 1, 21);
    ITensor* grid = op("Conv", {x, constant(w), constant(b)}, convAttrs({8, 8}));
    LayerAttributes swap;
    swap.setInts("perm", {0, 2, 1});
    ITensor* tokens = op("Transpose", {op("Reshape", {grid, ints({-1, 16, 24})})}, swap);
    net->markOutput(*op("Add", {tokens, constant(randomTensor(DataType::kFLOAT, {24, 16}, -1, 1, 22))}));

    PatchConvToMatMul pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Conv"), 0u);
    EXPECT_EQ(countOps(*g, "MatMul"), 1u);
    EXPECT_EQ(countOps(*g, "Reshape"), 2u);    // split into patches, patches into rows
    EXPECT_EQ(countOps(*g, "Transpose"), 1u);  // gathering each patch's pixels
    auto optimized = runPipeline(net->graph());
    EXPECT_EQ(countOps(*optimized, "FusedMatMul"), 1u);
    EXPECT_EQ(countOps(*optimized, "Transpose"), 1u);

    for (int64_t n : {1, 2}) {
        Tensor input = randomTensor(DataType::kFLOAT, {n, 3, 32, 48}, -1, 1, 23 + static_cast<uint32_t>(n));
        expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", input}}, 1e-4, 1e-5);
    }
}

TEST_F(PatchConvTest, ChannelsLastConsumerCancelsTheTransposeBack) {
    // ConvNeXt's stem: a 4x4 / 4 patchify conv, then permute(0, 2, 3, 1) for its LayerNorm.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 16, 24});
    ITensor* grid = op("Conv", {x, constant(randomTensor(DataType::kFLOAT, {8, 3, 4, 4}, -0.5, 0.5, 28)),
                                constant(randomTensor(DataType::kFLOAT, {8}, -1, 1, 29))},
                       convAttrs({4, 4}));
    LayerAttributes toNhwc;
    toNhwc.setInts("perm", {0, 2, 3, 1});
    net->markOutput(*op("Relu", {op("Transpose", {grid}, toNhwc)}));
    auto optimized = runPipeline(net->graph());
    EXPECT_EQ(countOps(*optimized, "FusedMatMul"), 1u);
    EXPECT_EQ(countOps(*optimized, "Transpose"), 1u);  // only the patch gather remains
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {2, 3, 16, 24}, -1, 1, 30)}},
                                          1e-4, 1e-5);
}

TEST_F(PatchConvTest, OtherFlatteningKeepsTheGrid) {
    // Reshape [N, K * h, w] then Transpose (0, 2, 1) is not the token layout: the general rewrite.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 16, 16});
    ITensor* grid = op("Conv", {x, constant(randomTensor(DataType::kFLOAT, {8, 3, 4, 4}, -0.5, 0.5, 31))}, convAttrs({4, 4}));
    LayerAttributes swap;
    swap.setInts("perm", {0, 2, 1});
    net->markOutput(*op("Transpose", {op("Reshape", {grid, ints({-1, 32, 4})})}, swap));
    PatchConvToMatMul pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Conv"), 0u);
    EXPECT_EQ(countOps(*g, "Transpose"), 3u);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {2, 3, 16, 16}, -1, 1, 32)}},
                                          1e-4, 1e-5);
}

TEST_F(PatchConvTest, FlatteningReadTwiceKeepsTheGrid) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 16, 16});
    ITensor* grid = op("Conv", {x, constant(randomTensor(DataType::kFLOAT, {8, 3, 4, 4}, -0.5, 0.5, 26))}, convAttrs({4, 4}));
    ITensor* flat = op("Reshape", {grid, ints({2, 8, 16})});
    LayerAttributes swap;
    swap.setInts("perm", {0, 2, 1});
    net->markOutput(*op("Transpose", {flat}, swap));
    net->markOutput(*flat);
    PatchConvToMatMul pass;
    auto g = runPass(net->graph(), pass);
    EXPECT_EQ(countOps(*g, "Conv"), 0u);
    EXPECT_EQ(countOps(*g, "Transpose"), 3u);  // patch gather, back to NCHW, the model's own
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {2, 3, 16, 16}, -1, 1, 27)}},
                                          1e-4, 1e-5);
}

TEST_F(PatchConvTest, AutoPadValidIsRewritten) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 2, 6, 6});
    LayerAttributes a;
    a.setInts("strides", {3, 3}).setString("auto_pad", "VALID");
    ITensor* y = op("Conv", {x, constant(randomTensor(DataType::kFLOAT, {5, 2, 3, 3}, -0.5, 0.5, 8))}, a);
    net->markOutput(*y);
    PatchConvToMatMul pass;
    bool changed = false;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(countOps(*g, "Conv"), 0u);
    expectSameResultsWithAndWithoutPasses(*builder, *net, {{"x", randomTensor(DataType::kFLOAT, {1, 2, 6, 6}, -1, 1, 9)}},
                                          1e-4, 1e-5);
}

struct NotPatchify {
    const char* what;
    Shape input;
    Shape weights;
    std::vector<int64_t> strides;
    std::vector<int64_t> pads;
    std::vector<int64_t> dilations;
    int64_t group;
};

/// How gtest prints a case (its listing would otherwise dump the struct's bytes).
void PrintTo(const NotPatchify& c, std::ostream* os) {
    *os << c.what;
}

class PatchConvRefusalTest : public NetworkTest, public ::testing::WithParamInterface<NotPatchify> {};

TEST_P(PatchConvRefusalTest, ConvStaysAConv) {
    const NotPatchify& c = GetParam();
    Dims dims;
    for (int64_t d : c.input) dims.d[dims.nbDims++] = d;
    ITensor* x = net->addInput("x", DataType::kFLOAT, dims);
    ITensor* w = constant(randomTensor(DataType::kFLOAT, c.weights, -0.5, 0.5, 10));
    ITensor* y = op("Conv", {x, w}, convAttrs(c.strides, c.pads, c.dilations, c.group));
    net->markOutput(*y);
    PatchConvToMatMul pass;
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed) << c.what;
    EXPECT_EQ(countOps(*g, "Conv"), 1u) << c.what;
    EXPECT_EQ(countOps(*g, "MatMul"), 0u) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    NotExactAsAGemm, PatchConvRefusalTest,
    ::testing::Values(NotPatchify{"stride below the kernel", {1, 3, 16, 16}, {8, 3, 4, 4}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1},
                      NotPatchify{"stride differs on one axis", {1, 3, 16, 16}, {8, 3, 4, 4}, {4, 2}, {0, 0, 0, 0}, {1, 1}, 1},
                      NotPatchify{"padding", {1, 3, 14, 14}, {8, 3, 4, 4}, {4, 4}, {1, 1, 1, 1}, {1, 1}, 1},
                      NotPatchify{"dilation", {1, 3, 16, 16}, {8, 3, 2, 2}, {2, 2}, {0, 0, 0, 0}, {2, 2}, 1},
                      NotPatchify{"groups", {1, 4, 16, 16}, {8, 2, 4, 4}, {4, 4}, {0, 0, 0, 0}, {1, 1}, 2},
                      NotPatchify{"H not divisible", {1, 3, 18, 16}, {8, 3, 4, 4}, {4, 4}, {0, 0, 0, 0}, {1, 1}, 1},
                      NotPatchify{"W not divisible", {1, 3, 16, 18}, {8, 3, 4, 4}, {4, 4}, {0, 0, 0, 0}, {1, 1}, 1},
                      NotPatchify{"1x1 kernel", {1, 3, 16, 16}, {8, 3, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1},
                      NotPatchify{"1x2 kernel", {1, 3, 16, 16}, {8, 3, 1, 2}, {1, 2}, {0, 0, 0, 0}, {1, 1}, 1},
                      NotPatchify{"many channels (ConvNeXt's downsampling)", {1, 16, 8, 8}, {32, 16, 2, 2}, {2, 2},
                                  {0, 0, 0, 0}, {1, 1}, 1},
                      NotPatchify{"1-D conv", {1, 3, 16}, {8, 3, 4}, {4}, {0, 0}, {1}, 1}),
    // Test names from the case's description (gtest's default prints the struct's bytes).
    [](const ::testing::TestParamInfo<NotPatchify>& info) {
        std::string name;
        for (const char* c = info.param.what; *c; ++c)
            if (std::isalnum(static_cast<unsigned char>(*c))) name += *c;
        return name;
    });

TEST_F(PatchConvTest, ComputedWeightsOrDynamicExtentsAreLeftAlone) {
    // Weights that are a network input are not known at build time.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 3, 16, 16});
    ITensor* w = net->addInput("w", DataType::kFLOAT, Dims{8, 3, 4, 4});
    net->markOutput(*op("Conv", {x, w}, convAttrs({4, 4})));
    // A dynamic height: its divisibility by the kernel is unknown at build time.
    ITensor* z = net->addInput("z", DataType::kFLOAT, Dims{1, 3, -1, 16});
    net->markOutput(*op("Conv", {z, constant(randomTensor(DataType::kFLOAT, {8, 3, 4, 4}, -0.5, 0.5, 11))}, convAttrs({4, 4})));
    PatchConvToMatMul pass;
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Conv"), 2u);
}

TEST_F(PatchConvTest, ConvFeedingBatchNormIsLeftForFolding) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 3, 8, 8});
    ITensor* c = op("Conv", {x, constant(randomTensor(DataType::kFLOAT, {4, 3, 4, 4}, -0.5, 0.5, 12))}, convAttrs({4, 4}));
    ITensor* y = op("BatchNormalization", {c, constant(randomTensor(DataType::kFLOAT, {4}, 0.5, 1.5, 13)),
                                           constant(randomTensor(DataType::kFLOAT, {4}, -1, 1, 14)),
                                           constant(randomTensor(DataType::kFLOAT, {4}, -1, 1, 15)),
                                           constant(randomTensor(DataType::kFLOAT, {4}, 0.5, 1.5, 16))});
    net->markOutput(*y);
    PatchConvToMatMul pass;
    bool changed = true;
    auto g = runPass(net->graph(), pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Conv"), 1u);
}

}  // namespace
}  // namespace kiln::test
