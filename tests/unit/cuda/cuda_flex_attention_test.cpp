// ai.onnx.preview::FlexAttention on the CUDA backend against the CPU backend: random Q, K, V in
// float, float16 and double, grouped-query heads, an explicit scale, and score_mod / prob_mod
// subgraphs (run by the subgraph executor on the GPU) that read a captured outer value or a body
// constant, in the float and in a narrower float16 softmax precision.

#include <gtest/gtest.h>

#include <optional>

#include "cuda_test_support.h"
#include "ir/control_flow.h"
#include "ir/shape_inference.h"

namespace kiln::cudatest {
namespace {

constexpr const char* kPreview = "ai.onnx.preview";

struct FlexShape {
    int64_t batch, heads, kvHeads, queries, keys, headSize, valueSize;
};

/// score_mod: scores + bias, with bias [L, S] captured from the outer graph.
std::shared_ptr<Graph> biasMod(DataType type, const FlexShape& s) {
    auto g = std::make_shared<Graph>();
    g->name = "add_bias";
    Value* scores = g->addInput("scores", type, fromConcrete({s.batch, s.heads, s.queries, s.keys}));
    Value* bias = g->addInput("bias", type, fromConcrete({s.queries, s.keys}));
    g->markOutput(g->addNode("Add", "add", {scores, bias}, {"biased"})->outputs[0]);
    EXPECT_TRUE(inferGraphShapes(*g, ShapeInferenceOptions{}));
    return g;
}

/// prob_mod: probabilities * 0.75 (a body constant of the precision's type). Every subgraph lists
/// the node's captured values: with a captured bias it takes (and ignores) it too.
std::shared_ptr<Graph> scaleMod(DataType type, const FlexShape& s, bool biasCaptured) {
    auto g = std::make_shared<Graph>();
    g->name = "scale_probs";
    Value* probs = g->addInput("probs", type, fromConcrete({s.batch, s.heads, s.queries, s.keys}));
    if (biasCaptured) g->addInput("bias", type, fromConcrete({s.queries, s.keys}));
    Value* factor = g->addConstant("factor", convertTensor(Tensor::scalarFloat(0.75f), type));
    g->markOutput(g->addNode("Mul", "mul", {probs, factor}, {"scaled"})->outputs[0]);
    EXPECT_TRUE(inferGraphShapes(*g, ShapeInferenceOptions{}));
    return g;
}

class CudaFlexAttentionTest : public CudaTest {
protected:
    void expectMatchesCpu(const std::vector<const Tensor*>& inputs, const AttributeMap& attrs, double tolerance,
                          const std::string& label) {
        test::SingleNodeRun ref = test::runSingleNode("FlexAttention", inputs, 1, attrs, kPreview);
        ASSERT_TRUE(ref.status) << label << ": CPU reference: " << ref.status.message();
        auto gpu = runOnCuda(*mBackend, mStream, "FlexAttention", inputs, {ref.outputs[0].dtype()},
                             {ref.outputs[0].shape()}, attrs, kPreview);
        ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
        EXPECT_EQ(test::compareWithReference(gpu->outputs[0], ref.outputs[0].toDoubleVector(), tolerance, tolerance), "")
            << label << " (tactic " << gpu->tactic << ")";
    }
};

TEST_F(CudaFlexAttentionTest, MatchesCpuAcrossTypesHeadsAndModifiers) {
    struct Case {
        DataType type;
        FlexShape shape;
        bool scoreMod, probMod;
        std::optional<float> scale;
        std::optional<DataType> precision;
        double tolerance;
    };
    const FlexShape mha{2, 3, 3, 4, 6, 8, 5};
    const FlexShape gqa{1, 4, 2, 5, 7, 4, 9};
    const std::vector<Case> cases = {
        {DataType::kFLOAT, mha, false, false, std::nullopt, std::nullopt, 1e-5},
        {DataType::kFLOAT, gqa, false, false, 0.3f, std::nullopt, 1e-5},
        {DataType::kFLOAT, gqa, true, false, std::nullopt, std::nullopt, 1e-5},
        {DataType::kFLOAT, mha, true, true, 0.5f, std::nullopt, 1e-5},
        {DataType::kHALF, gqa, false, true, std::nullopt, std::nullopt, 2e-3},
        {DataType::kDOUBLE, mha, true, true, std::nullopt, std::nullopt, 1e-10},
        {DataType::kFLOAT, gqa, true, true, std::nullopt, DataType::kHALF, 2e-3},
    };
    uint32_t seed = 1;
    for (const Case& c : cases) {
        const FlexShape& s = c.shape;
        const Tensor q = test::randomTensor(c.type, {s.batch, s.heads, s.queries, s.headSize}, -1.0, 1.0, seed++);
        const Tensor k = test::randomTensor(c.type, {s.batch, s.kvHeads, s.keys, s.headSize}, -1.0, 1.0, seed++);
        const Tensor v = test::randomTensor(c.type, {s.batch, s.kvHeads, s.keys, s.valueSize}, -1.0, 1.0, seed++);
        const DataType precision = c.precision.value_or(c.type == DataType::kDOUBLE ? DataType::kDOUBLE : DataType::kFLOAT);
        const Tensor bias = test::randomTensor(precision, {s.queries, s.keys}, -2.0, 2.0, seed++);
        AttributeMap attrs;
        std::vector<const Tensor*> inputs{&q, &k, &v};
        if (c.scoreMod) {
            attrs.set("score_mod", biasMod(precision, s));
            attrs.set(kCapturedInputsAttr, int64_t{1});
            inputs.push_back(&bias);
        }
        if (c.probMod) attrs.set("prob_mod", scaleMod(precision, s, c.scoreMod));
        if (c.scale) attrs.set("scale", *c.scale);
        if (c.precision) attrs.set("softmax_precision", int64_t{*c.precision == DataType::kHALF ? 10 : 1});
        expectMatchesCpu(inputs, attrs, c.tolerance,
                         std::string(dataTypeName(c.type)) + " heads " + std::to_string(s.heads) + "/" +
                             std::to_string(s.kvHeads) + (c.scoreMod ? " score_mod" : "") + (c.probMod ? " prob_mod" : "") +
                             (c.precision ? " float16 precision" : ""));
    }
}

}  // namespace
}  // namespace kiln::cudatest
