// The structure fingerprint that keys whole-graph decisions in the timing cache (builder/graph_fingerprint.h):
// the same for another copy of a model with other weights, names or builder-written attributes; another for
// any change of op, attribute, type, shape at the profile point or wiring.

#include "builder/graph_fingerprint.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "backends/code_generation.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/precision_attributes.h"
#include "builder/profile_resolution.h"
#include "ir/shape_inference.h"
#include "test_support.h"

namespace kiln {
namespace {

struct Variant {
    uint32_t weightSeed{1};
    std::string prefix;  // of every node and value name
    int64_t pad{1};
    DataType type{DataType::kHALF};
    bool reluFirst{false};  // x -> Relu -> Conv instead of x -> Conv -> Relu
};

std::unique_ptr<Graph> network(const Variant& v) {
    auto g = std::make_unique<Graph>();
    Value* x = g->addInput(v.prefix + "x", v.type, SymShape{Dim::named("N"), Dim(4), Dim(8), Dim(8)});
    auto conv = [&](Value* in) {
        Value* w = g->addConstant(v.prefix + "w", test::randomTensor(v.type, {4, 4, 3, 3}, -1, 1, v.weightSeed));
        Node* node = g->addNode("Conv", v.prefix + "conv", {in, w}, {v.prefix + "c"}, 1);
        node->attrs.set("pads", std::vector<int64_t>{v.pad, v.pad, v.pad, v.pad});
        return node->outputs[0];
    };
    auto relu = [&](Value* in) { return g->addNode("Relu", v.prefix + "relu", {in}, {v.prefix + "r"}, 1)->outputs[0]; };
    g->markOutput(v.reluFirst ? conv(relu(x)) : relu(conv(x)));
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    EXPECT_TRUE(inferGraphShapes(*g, options).isOk());
    return g;
}

std::string fingerprint(const Graph& g, int64_t batch = 2) {
    ProfileShapes profile;
    const Shape x{batch, 4, 8, 8};
    profile.inputs[g.inputs()[0]->name] = {x, x, x};
    auto infos = inferAtProfile(g, profile, OptProfileSelector::kOPT);
    EXPECT_TRUE(infos.isOk());
    return infos.isOk() ? structureFingerprint(g, infos.value()) : "";
}

TEST(GraphFingerprintTest, NamesTheStructureNotTheWeightsOrTheNames) {
    const std::string base = fingerprint(*network({}));
    EXPECT_EQ(base.rfind("2 layers ", 0), 0u) << base;
    EXPECT_EQ(base.size(), std::string("2 layers ").size() + 16) << base;
    EXPECT_EQ(fingerprint(*network({})), base);

    Variant renamed;
    renamed.weightSeed = 9;
    renamed.prefix = "other_";
    EXPECT_EQ(fingerprint(*network(renamed)), base);

    // What the builder writes after the decision does not change it.
    auto prepared = network({});
    prepared->nodes()[0]->attrs.set(kTacticAttribute, std::vector<int64_t>{3, 4});
    prepared->nodes()[1]->attrs.set(kGeneratedCodeAttribute, std::string("cubin"));
    EXPECT_EQ(fingerprint(*prepared), base);
}

/// a - b or b - a: the same ops, types and shapes, wired differently.
std::string subtractionFingerprint(bool swapped) {
    Graph g;
    Value* a = g.addInput("a", DataType::kFLOAT, fromConcrete({2, 3}));
    Value* b = g.addInput("b", DataType::kFLOAT, fromConcrete({2, 3}));
    Node* sub = g.addNode("Sub", "sub", swapped ? std::vector<Value*>{b, a} : std::vector<Value*>{a, b}, {"d"}, 1);
    g.markOutput(sub->outputs[0]);
    ProfileShapes profile;
    profile.inputs["a"] = profile.inputs["b"] = {Shape{2, 3}, Shape{2, 3}, Shape{2, 3}};
    auto infos = inferAtProfile(g, profile, OptProfileSelector::kOPT);
    EXPECT_TRUE(infos.isOk());
    return infos.isOk() ? structureFingerprint(g, infos.value()) : "";
}

TEST(GraphFingerprintTest, ChangesWithShapesAttributesTypesOpsAndWiring) {
    EXPECT_NE(subtractionFingerprint(true), subtractionFingerprint(false));

    const std::string base = fingerprint(*network({}));
    EXPECT_NE(fingerprint(*network({}), 8), base);  // the profile's opt batch

    Variant padded;
    padded.pad = 0;
    EXPECT_NE(fingerprint(*network(padded)), base);

    Variant bf16;
    bf16.type = DataType::kBF16;
    EXPECT_NE(fingerprint(*network(bf16)), base);

    Variant reordered;
    reordered.reluFirst = true;
    EXPECT_NE(fingerprint(*network(reordered)), base);

    auto otherOp = network({});
    otherOp->nodes()[1]->opType = "Sigmoid";
    EXPECT_NE(fingerprint(*otherOp), base);
}

}  // namespace
}  // namespace kiln
