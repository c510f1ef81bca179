// ai.onnx.preview::FlexAttention against a double-precision reference written from the ONNX
// definition (scale * Q K^T, score_mod, softmax, prob_mod, times V; GQA by h / group), on random
// data: default and explicit scale, GQA, different value head size, double / float16 / bfloat16
// inputs, modifier subgraphs that add, mask through a captured outer value, cap, read their input's
// shape, or scale the probabilities, a float16 softmax precision; plus the inference and verifier
// rules for the modifiers.

#include <cmath>
#include <functional>

#include "ir/control_flow.h"
#include "ir/verifier.h"
#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

constexpr const char* kPreview = "ai.onnx.preview";

using ScoreFn = std::function<double(double score, int64_t l, int64_t s)>;

struct FlexShape {
    int64_t batch, heads, kvHeads, queries, keys, headSize, valueSize;
};

/// Y of FlexAttention in double; `precision` rounds scores and probabilities where ONNX holds
/// them in the softmax precision (a float16 one).
std::vector<double> flexReference(const Tensor& q, const Tensor& k, const Tensor& v, const FlexShape& f, double scale,
                                  const ScoreFn& scoreMod, const ScoreFn& probMod, bool halfPrecision = false) {
    auto round = [&](double x) { return halfPrecision ? double(float(Half(float(x)))) : x; };
    std::vector<double> y;
    const int64_t group = f.heads / f.kvHeads;
    for (int64_t b = 0; b < f.batch; ++b)
        for (int64_t h = 0; h < f.heads; ++h) {
            const int64_t kv = b * f.kvHeads + h / group;
            for (int64_t l = 0; l < f.queries; ++l) {
                std::vector<double> p(size_t(f.keys));
                double top = -INFINITY;
                for (int64_t s = 0; s < f.keys; ++s) {
                    double dot = 0;
                    for (int64_t e = 0; e < f.headSize; ++e)
                        dot += q.elementAsDouble(((b * f.heads + h) * f.queries + l) * f.headSize + e) *
                               k.elementAsDouble((kv * f.keys + s) * f.headSize + e);
                    double score = round(scale * dot);
                    if (scoreMod) score = round(scoreMod(score, l, s));
                    p[size_t(s)] = score;
                    top = std::max(top, score);
                }
                double sum = 0;
                for (double& x : p) sum += (x = std::exp(x - top));
                for (int64_t s = 0; s < f.keys; ++s) {
                    p[size_t(s)] = round(p[size_t(s)] / sum);
                    if (probMod) p[size_t(s)] = round(probMod(p[size_t(s)], l, s));
                }
                for (int64_t m = 0; m < f.valueSize; ++m) {
                    double out = 0;
                    for (int64_t s = 0; s < f.keys; ++s) out += p[size_t(s)] * v.elementAsDouble((kv * f.keys + s) * f.valueSize + m);
                    y.push_back(out);
                }
            }
        }
    return y;
}

/// A modifier subgraph: input "x" of `type` (B, H, L, S), then `captures` (name, type, shape);
/// `body` adds its nodes and returns the output value.
std::shared_ptr<Graph> modifier(DataType type, const std::function<Value*(Graph&, Value*)>& body,
                                const std::vector<std::tuple<std::string, DataType, SymShape>>& captures = {}) {
    auto g = std::make_shared<Graph>();
    g->name = "modifier";
    Value* x = g->addInput("x", type, {Dim::named("B"), Dim::named("H"), Dim::named("L"), Dim::named("S")});
    for (const auto& [name, dtype, shape] : captures) g->addInput(name, dtype, shape);
    g->markOutput(body(*g, x));
    return g;
}

Value* unary(Graph& g, const std::string& op, Value* a, const std::string& name) {
    return g.addNode(op, name, {a}, {name + "_out"})->outputs[0];
}
Value* binary(Graph& g, const std::string& op, Value* a, Value* b, const std::string& name) {
    return g.addNode(op, name, {a, b}, {name + "_out"})->outputs[0];
}

Tensor halfScalar(float value) {
    Tensor t = Tensor::allocate(DataType::kHALF, {});
    t.data<Half>()[0] = Half(value);
    return t;
}

struct FlexRun {
    Status status;
    Tensor y;
    Graph graph;
};

/// Builds, verifies, infers and runs one FlexAttention node; `captured` are outer values its
/// modifiers read (their trailing inputs).
void runFlex(FlexRun& run, const std::vector<const Tensor*>& qkv, const AttributeMap& attrs,
             const std::vector<const Tensor*>& captured = {}) {
    Graph& graph = run.graph;
    std::vector<const Tensor*> all = qkv;
    all.insert(all.end(), captured.begin(), captured.end());
    std::vector<Value*> ins;
    for (size_t i = 0; i < all.size(); ++i)
        ins.push_back(graph.addInput("in" + std::to_string(i), all[i]->dtype(), fromConcrete(all[i]->shape())));
    Node* node = graph.addNode("FlexAttention", "flex", ins, {"y"}, 1);
    node->domain = kPreview;
    node->attrs = attrs;
    if (!captured.empty()) node->attrs.set(kCapturedInputsAttr, int64_t(captured.size()));
    graph.markOutput(node->outputs[0]);
    run.status = verifyGraph(graph);
    if (!run.status) return;
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    run.status = inferShapes(graph, infos, ShapeInferenceOptions{});
    if (!run.status) return;
    const ValueInfo& out = infos[size_t(node->outputs[0]->id)];
    node->outputs[0]->dtype = out.dtype;
    node->outputs[0]->shape = out.shape;
    auto outputs = CpuNodeEvaluator().evaluate(*node, all, {out});
    if (!outputs) {
        run.status = outputs.status();
        return;
    }
    run.y = std::move((*outputs)[0]);
}

struct Inputs {
    Tensor q, k, v;
};
Inputs randomInputs(const FlexShape& f, DataType type, uint32_t seed) {
    return {randomTensor(type, {f.batch, f.heads, f.queries, f.headSize}, -1, 1, seed),
            randomTensor(type, {f.batch, f.kvHeads, f.keys, f.headSize}, -1, 1, seed + 1),
            randomTensor(type, {f.batch, f.kvHeads, f.keys, f.valueSize}, -1, 1, seed + 2)};
}

TEST(FlexAttentionOp, PlainAttentionShapesTypesAndScale) {
    struct Case {
        FlexShape f;
        DataType type;
        float scale;  // 0: the default 1 / sqrt(head size)
        double tol;
    };
    uint32_t seed = 10;
    for (const Case& c : {Case{{2, 4, 4, 5, 7, 8, 8}, DataType::kFLOAT, 0, 1e-5},
                          Case{{2, 6, 2, 3, 4, 8, 8}, DataType::kFLOAT, 0, 1e-5},     // GQA, 3 query heads per KV head
                          Case{{1, 4, 1, 4, 6, 4, 4}, DataType::kFLOAT, 0, 1e-5},     // MQA
                          Case{{2, 2, 2, 5, 3, 8, 12}, DataType::kFLOAT, 0.3f, 1e-5}, // value head size differs, scale
                          Case{{2, 4, 2, 5, 7, 8, 6}, DataType::kDOUBLE, 0, 1e-12},
                          Case{{2, 4, 2, 5, 7, 8, 6}, DataType::kHALF, 0, 2e-3},
                          Case{{2, 4, 2, 5, 7, 8, 6}, DataType::kBF16, 0, 1e-2}}) {
        Inputs in = randomInputs(c.f, c.type, seed += 10);
        AttributeMap attrs;
        if (c.scale != 0) attrs.set("scale", c.scale);
        FlexRun run;
        runFlex(run, {&in.q, &in.k, &in.v}, attrs);
        const std::string what = std::string(dataTypeName(c.type)) + " Hq " + std::to_string(c.f.heads) + " Hkv " +
                                 std::to_string(c.f.kvHeads);
        ASSERT_TRUE(run.status) << what << ": " << run.status.message();
        ASSERT_EQ(run.y.dtype(), c.type) << what;
        ASSERT_EQ(run.y.shape(), (Shape{c.f.batch, c.f.heads, c.f.queries, c.f.valueSize})) << what;
        const double scale = c.scale != 0 ? double(c.scale) : 1.0 / std::sqrt(double(c.f.headSize));
        EXPECT_EQ(compareWithReference(run.y, flexReference(in.q, in.k, in.v, c.f, scale, nullptr, nullptr), c.tol, c.tol), "")
            << what;
    }
}

TEST(FlexAttentionOp, ScoreModifiers) {
    const FlexShape f{2, 4, 2, 5, 6, 8, 4};
    const double scale = 1.0 / std::sqrt(8.0);
    Inputs in = randomInputs(f, DataType::kFLOAT, 100);

    auto bias = modifier(DataType::kFLOAT, [](Graph& g, Value* x) {
        return binary(g, "Add", x, g.addConstant("bias", Tensor::scalarFloat(0.75f)), "add");
    });
    auto softCap = modifier(DataType::kFLOAT, [](Graph& g, Value* x) {
        Value* cap = g.addConstant("cap", Tensor::scalarFloat(0.5f));
        return binary(g, "Mul", unary(g, "Tanh", binary(g, "Div", x, cap, "div"), "tanh"), cap, "mul");
    });
    // score + (l - s), with l and s built from the input's own shape (run-time shape inference inside).
    auto relative = modifier(DataType::kFLOAT, [](Graph& g, Value* x) {
        Value* shape = unary(g, "Shape", x, "shape");
        auto dim = [&](int64_t axis, const std::string& name) {
            Node* n = g.addNode("Gather", name, {shape, g.addConstant(name + "_axis", int64Scalar(axis))}, {name + "_out"});
            n->attrs.set("axis", int64_t{0});
            return n->outputs[0];
        };
        Value* zero = g.addConstant("zero", int64Scalar(0));
        Value* one = g.addConstant("one", int64Scalar(1));
        Value* rows = g.addNode("Range", "rows", {zero, dim(2, "l"), one}, {"rows_out"})->outputs[0];
        Value* cols = g.addNode("Range", "cols", {zero, dim(3, "s"), one}, {"cols_out"})->outputs[0];
        Value* column = binary(g, "Reshape", rows, g.addConstant("column_shape", int64Vector({-1, 1})), "column");
        Value* offset = binary(g, "Sub", column, cols, "offset");
        Node* cast = g.addNode("Cast", "cast", {offset}, {"cast_out"});
        cast->attrs.set("to", int64_t{1});
        return binary(g, "Add", x, cast->outputs[0], "add");
    });
    struct Case {
        const char* name;
        std::shared_ptr<Graph> graph;
        ScoreFn fn;
    };
    for (const Case& c : {Case{"bias", bias, [](double x, int64_t, int64_t) { return x + 0.75; }},
                          Case{"soft cap", softCap, [](double x, int64_t, int64_t) { return std::tanh(x / 0.5) * 0.5; }},
                          Case{"relative", relative, [](double x, int64_t l, int64_t s) { return x + double(l - s); }}}) {
        FlexRun run;
        runFlex(run, {&in.q, &in.k, &in.v}, attrsOf({{"score_mod", c.graph}}));
        ASSERT_TRUE(run.status) << c.name << ": " << run.status.message();
        EXPECT_EQ(compareWithReference(run.y, flexReference(in.q, in.k, in.v, f, scale, c.fn, nullptr), 1e-5, 1e-6), "") << c.name;
    }
}

TEST(FlexAttentionOp, MaskFromACapturedOuterValue) {
    // A causal mask that the outer graph computes, read by score_mod as a capture.
    const FlexShape f{1, 2, 2, 5, 5, 4, 4};
    Inputs in = randomInputs(f, DataType::kFLOAT, 200);
    Tensor mask = Tensor::allocate(DataType::kBOOL, {5, 5});
    for (int64_t l = 0; l < 5; ++l)
        for (int64_t s = 0; s < 5; ++s) mask.data<bool>()[l * 5 + s] = s <= l;
    auto masked = modifier(
        DataType::kFLOAT,
        [](Graph& g, Value* x) {
            return g.addNode("Where", "where", {g.inputs()[1], x, g.addConstant("neg_inf", Tensor::scalarFloat(-INFINITY))},
                             {"where_out"})
                ->outputs[0];
        },
        {{"mask", DataType::kBOOL, {5, 5}}});
    FlexRun run;
    runFlex(run, {&in.q, &in.k, &in.v}, attrsOf({{"score_mod", masked}}), {&mask});
    ASSERT_TRUE(run.status) << run.status.message();
    ScoreFn causal = [](double x, int64_t l, int64_t s) { return s <= l ? x : -INFINITY; };
    EXPECT_EQ(compareWithReference(run.y, flexReference(in.q, in.k, in.v, f, 0.5, causal, nullptr), 1e-5, 1e-6), "");
}

TEST(FlexAttentionOp, ProbabilityModifierAndBothTogether) {
    const FlexShape f{2, 2, 1, 4, 6, 8, 5};
    Inputs in = randomInputs(f, DataType::kFLOAT, 300);
    auto square = modifier(DataType::kFLOAT, [](Graph& g, Value* x) { return binary(g, "Mul", x, x, "square"); });
    auto shift = modifier(DataType::kFLOAT, [](Graph& g, Value* x) {
        return binary(g, "Sub", x, g.addConstant("shift", Tensor::scalarFloat(2.0f)), "sub");
    });
    const double scale = 1.0 / std::sqrt(8.0);
    ScoreFn squared = [](double p, int64_t, int64_t) { return p * p; };
    FlexRun probOnly;
    runFlex(probOnly, {&in.q, &in.k, &in.v}, attrsOf({{"prob_mod", square}}));
    ASSERT_TRUE(probOnly.status) << probOnly.status.message();
    EXPECT_EQ(compareWithReference(probOnly.y, flexReference(in.q, in.k, in.v, f, scale, nullptr, squared), 1e-5, 1e-6), "");
    // A shift of every score cancels in the softmax: only prob_mod's square shows.
    FlexRun both;
    runFlex(both, {&in.q, &in.k, &in.v}, attrsOf({{"score_mod", shift}, {"prob_mod", square}}));
    ASSERT_TRUE(both.status) << both.status.message();
    ScoreFn shifted = [](double x, int64_t, int64_t) { return x - 2.0; };
    EXPECT_EQ(compareWithReference(both.y, flexReference(in.q, in.k, in.v, f, scale, shifted, squared), 1e-5, 1e-6), "");
}

TEST(FlexAttentionOp, HalfSoftmaxPrecisionHandsTheModifiersHalfTensors) {
    const FlexShape f{1, 2, 2, 4, 5, 8, 4};
    Inputs in = randomInputs(f, DataType::kFLOAT, 400);
    auto bias = modifier(DataType::kHALF, [](Graph& g, Value* x) {
        return binary(g, "Add", x, g.addConstant("bias", halfScalar(0.25f)), "add");
    });
    FlexRun run;
    runFlex(run, {&in.q, &in.k, &in.v}, attrsOf({{"score_mod", bias}, {"softmax_precision", int64_t{10}}}));
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.y.dtype(), DataType::kFLOAT);
    ScoreFn add = [](double x, int64_t, int64_t) { return x + 0.25; };
    EXPECT_EQ(compareWithReference(run.y, flexReference(in.q, in.k, in.v, f, 1.0 / std::sqrt(8.0), add, nullptr, true), 2e-3, 2e-3),
              "");
    // The same modifier in float is refused for that precision: its input type does not match.
    auto floatBias = modifier(DataType::kFLOAT, [](Graph& g, Value* x) {
        return binary(g, "Add", x, g.addConstant("bias", Tensor::scalarFloat(0.25f)), "add");
    });
    FlexRun mismatch;
    runFlex(mismatch, {&in.q, &in.k, &in.v}, attrsOf({{"score_mod", floatBias}, {"softmax_precision", int64_t{10}}}));
    EXPECT_FALSE(mismatch.status);
}

TEST(FlexAttentionOp, InferenceChecksInputsAndModifiers) {
    const Dim b = Dim::named("b"), l = Dim::named("l"), s = Dim::named("s");
    AttributeMap none;
    auto infer = [&](const SymShape& q, const SymShape& k, const SymShape& v, const AttributeMap& attrs,
                     DataType type = DataType::kFLOAT) {
        Graph graph;
        Node* node = graph.addNode("FlexAttention", "flex",
                                   {graph.addInput("q", type, q), graph.addInput("k", type, k), graph.addInput("v", type, v)},
                                   {"y"}, 1);
        node->domain = kPreview;
        node->attrs = attrs;
        std::vector<ValueInfo> infos = initialValueInfos(graph);
        InferResult r;
        r.status = inferShapes(graph, infos, ShapeInferenceOptions{});
        r.outputs.push_back(infos[size_t(node->outputs[0]->id)]);
        return r;
    };
    InferResult ok = infer({b, 8, l, 64}, {b, 2, s, 64}, {b, 2, s, 32}, none, DataType::kHALF);
    ASSERT_TRUE(ok.status) << ok.status.message();
    EXPECT_EQ(shapeString(ok.outputs[0]), "(b, 8, l, 32)");
    EXPECT_EQ(ok.outputs[0].dtype, DataType::kHALF);

    EXPECT_FALSE(infer({2, 8, 4, 64}, {2, 3, 5, 64}, {2, 3, 5, 64}, none).status);   // 8 heads over 3 KV heads
    EXPECT_FALSE(infer({2, 8, 4, 64}, {2, 2, 5, 32}, {2, 2, 5, 64}, none).status);   // Q and K head sizes
    EXPECT_FALSE(infer({2, 8, 4, 64}, {2, 2, 5, 64}, {2, 2, 6, 64}, none).status);   // K and V lengths
    EXPECT_FALSE(infer({2, 8, 64}, {2, 2, 5, 64}, {2, 2, 5, 64}, none).status);      // rank 3
    EXPECT_FALSE(infer({2, 8, 4, 64}, {2, 2, 5, 64}, {2, 2, 5, 64}, none, DataType::kINT32).status);
    EXPECT_FALSE(infer({2, 8, 4, 64}, {2, 2, 5, 64}, {2, 2, 5, 64}, attrsOf({{"softmax_precision", int64_t{7}}})).status);

    auto reduce = modifier(DataType::kFLOAT, [](Graph& g, Value* x) {
        Node* n = g.addNode("ReduceSum", "sum", {x, g.addConstant("axes", int64Vector({3}))}, {"sum_out"});
        n->attrs.set("keepdims", int64_t{1});
        return n->outputs[0];
    });
    Status shape = infer({2, 8, 4, 64}, {2, 2, 5, 64}, {2, 2, 5, 64}, attrsOf({{"score_mod", reduce}})).status;
    ASSERT_FALSE(shape);
    EXPECT_NE(shape.message().find("keep its input's type and shape"), std::string::npos) << shape.message();
    auto toDouble = modifier(DataType::kFLOAT, [](Graph& g, Value* x) {
        Node* n = g.addNode("Cast", "cast", {x}, {"cast_out"});
        n->attrs.set("to", int64_t{11});
        return n->outputs[0];
    });
    EXPECT_FALSE(infer({2, 8, 4, 64}, {2, 2, 5, 64}, {2, 2, 5, 64}, attrsOf({{"prob_mod", toDouble}})).status);
}

TEST(FlexAttentionOp, VerifierChecksTheModifiersBinding) {
    // A modifier takes the score tensor and the node's captures: a second input that nothing binds is refused.
    auto extra = modifier(DataType::kFLOAT, [](Graph& g, Value* x) { return binary(g, "Mul", x, g.inputs()[1], "mul"); },
                          {{"unbound", DataType::kFLOAT, {}}});
    Graph graph;
    Node* node = graph.addNode("FlexAttention", "flex",
                               {graph.addInput("q", DataType::kFLOAT, {1, 1, 2, 4}), graph.addInput("k", DataType::kFLOAT, {1, 1, 3, 4}),
                                graph.addInput("v", DataType::kFLOAT, {1, 1, 3, 4})},
                               {"y"}, 1);
    node->domain = kPreview;
    node->attrs.set("score_mod", extra);
    Status status = verifyGraph(graph);
    ASSERT_FALSE(status);
    EXPECT_NE(status.message().find("subgraph 'score_mod' has 2 inputs"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace kiln::test
