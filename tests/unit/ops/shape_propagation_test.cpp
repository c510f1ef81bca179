// Shape computations through whole graphs (seed 001): Shape -> Gather -> Unsqueeze -> Concat ->
// Reshape / Expand must give static shapes when the input shapes are static, and keep the rank
// (and the symbols the spec lets through) when the batch is symbolic. Values flow through the
// CPU kernels via the evaluator, as in the builder.

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

struct Inferred {
    Status status;
    std::vector<ValueInfo> infos;
    const ValueInfo& of(const Value* v) const { return infos[static_cast<size_t>(v->id)]; }
};

Inferred infer(const Graph& graph) {
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    Inferred result;
    result.infos = initialValueInfos(graph);
    result.status = inferShapes(graph, result.infos, options);
    return result;
}

Value* addOp(Graph& graph, const std::string& op, std::vector<Value*> inputs, AttributeMap attrs = {}) {
    Node* node = graph.addNode(op, op + std::to_string(graph.nodes().size()), std::move(inputs), {}, 1);
    node->attrs = std::move(attrs);
    return node->outputs[0];
}

// Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): a flatten of everything but dim 0.
struct FlattenChain {
    Value* shape;
    Value* gathered;
    Value* concat;
    Value* reshaped;
};

FlattenChain buildFlattenChain(Graph& graph, Value* x) {
    FlattenChain chain;
    chain.shape = addOp(graph, "Shape", {x});
    chain.gathered = addOp(graph, "Gather", {chain.shape, graph.addConstant("zero", int64Scalar(0))});
    Value* unsqueezed = addOp(graph, "Unsqueeze", {chain.gathered, graph.addConstant("axes", int64Vector({0}))});
    chain.concat = addOp(graph, "Concat", {unsqueezed, graph.addConstant("minus_one", int64Vector({-1}))},
                         attrsOf({{"axis", int64_t{0}}}));
    chain.reshaped = addOp(graph, "Reshape", {x, chain.concat});
    graph.markOutput(chain.reshaped);
    return chain;
}

TEST(ShapePropagation, StaticInputGivesStaticReshape) {
    Graph graph;
    Value* x = graph.addInput("x", DataType::kFLOAT, {2, 3, 4});
    FlattenChain chain = buildFlattenChain(graph, x);
    Inferred r = infer(graph);
    ASSERT_TRUE(r.status) << r.status.message();
    ASSERT_TRUE(r.of(chain.concat).value.has_value());
    EXPECT_EQ(r.of(chain.concat).value->toInt64Vector(), (std::vector<int64_t>{2, -1}));
    EXPECT_TRUE(isFullyKnown(r.of(chain.reshaped).shape));
    EXPECT_EQ(symShapeToString(r.of(chain.reshaped).shape), "(2, 12)");
}

TEST(ShapePropagation, SymbolicBatchKeepsTheRank) {
    Graph graph;
    Value* x = graph.addInput("x", DataType::kFLOAT, {Dim::named("batch"), 3, 4});
    FlattenChain chain = buildFlattenChain(graph, x);
    Inferred r = infer(graph);
    ASSERT_TRUE(r.status) << r.status.message();
    // Shape(x) has no value (batch is unknown), so neither has the concat: the reshape's dims are
    // unknown, but its rank is the concat's length.
    EXPECT_FALSE(r.of(chain.shape).value.has_value());
    EXPECT_EQ(symShapeToString(r.of(chain.concat).shape), "(2)");
    EXPECT_EQ(r.of(chain.reshaped).shape.size(), 2u);
}

TEST(ShapePropagation, SymbolicBatchIsKeptThroughZeroAndMinusOne) {
    // Reshape(x, Concat([0], Unsqueeze(Gather(Shape(x, start=1), 0)), [-1])): the known tail of the
    // shape folds, 0 copies "batch" and -1 resolves against it.
    Graph graph;
    Value* x = graph.addInput("x", DataType::kFLOAT, {Dim::named("batch"), 4, 6});
    Value* tail = addOp(graph, "Shape", {x}, attrsOf({{"start", int64_t{1}}}));
    Value* four = addOp(graph, "Gather", {tail, graph.addConstant("zero", int64Scalar(0))});
    Value* unsqueezed = addOp(graph, "Unsqueeze", {four, graph.addConstant("axes", int64Vector({0}))});
    Value* concat =
        addOp(graph, "Concat",
              {graph.addConstant("keep", int64Vector({0})), unsqueezed, graph.addConstant("rest", int64Vector({-1}))},
              attrsOf({{"axis", int64_t{0}}}));
    Value* reshaped = addOp(graph, "Reshape", {x, concat});
    graph.markOutput(reshaped);
    Inferred r = infer(graph);
    ASSERT_TRUE(r.status) << r.status.message();
    ASSERT_TRUE(r.of(concat).value.has_value());
    EXPECT_EQ(r.of(concat).value->toInt64Vector(), (std::vector<int64_t>{0, 4, -1}));
    EXPECT_EQ(symShapeToString(r.of(reshaped).shape), "(batch, 4, 6)");
}

TEST(ShapePropagation, ExpandToShapeOfStaticTensorIsStatic) {
    // Seed 001's graph: Expand(sigmoid (1,5,1,1), Shape(conv (1,5,5,5))) must not turn dynamic.
    Graph graph;
    Value* gate = graph.addInput("gate", DataType::kFLOAT, {1, 5, 1, 1});
    Value* features = graph.addInput("features", DataType::kFLOAT, {1, 5, 5, 5});
    Value* shape = addOp(graph, "Shape", {features});
    Value* expanded = addOp(graph, "Expand", {gate, shape});
    // And the same through Gather + Concat of part of the shape.
    Value* leading = addOp(graph, "Gather", {shape, graph.addConstant("lead", int64Vector({0, 1}))});
    Value* target = addOp(graph, "Concat", {leading, graph.addConstant("hw", int64Vector({5, 5}))},
                          attrsOf({{"axis", int64_t{0}}}));
    Value* expanded2 = addOp(graph, "Expand", {gate, target});
    graph.markOutput(expanded);
    graph.markOutput(expanded2);
    Inferred r = infer(graph);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.of(expanded).shape), "(1, 5, 5, 5)");
    EXPECT_EQ(symShapeToString(r.of(expanded2).shape), "(1, 5, 5, 5)");
}

TEST(ShapePropagation, SliceAndSqueezeOfShapeValues) {
    // Shape -> Slice -> Squeeze -> Unsqueeze -> Concat -> Reshape (a common exporter pattern).
    Graph graph;
    Value* x = graph.addInput("x", DataType::kFLOAT, {3, 8, 2});
    Value* shape = addOp(graph, "Shape", {x});
    Value* sliced = addOp(graph, "Slice",
                          {shape, graph.addConstant("s", int64Vector({1})), graph.addConstant("e", int64Vector({2}))});
    Value* squeezed = addOp(graph, "Squeeze", {sliced, graph.addConstant("sq", int64Vector({0}))});
    Value* unsqueezed = addOp(graph, "Unsqueeze", {squeezed, graph.addConstant("unsq", int64Vector({0}))});
    Value* concat = addOp(graph, "Concat", {graph.addConstant("m1", int64Vector({-1})), unsqueezed},
                          attrsOf({{"axis", int64_t{0}}}));
    Value* reshaped = addOp(graph, "Reshape", {x, concat});
    graph.markOutput(reshaped);
    Inferred r = infer(graph);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.of(reshaped).shape), "(6, 8)");
}

}  // namespace
}  // namespace kiln::test
