// Values that share a buffer: Concat elision (slices written straight into the Concat's output,
// the Concat not run), relabels (a Reshape's output is its input's bytes) and in-place layers (an
// output written over a dying input), with the cases where a value must keep its own buffer, and the
// engine's values unchanged.

#include <gtest/gtest.h>

#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "engine_runner.h"
#include "ir/shape_inference.h"
#include "runtime/execution_layout.h"
#include "test_support.h"

namespace kiln::test {
namespace {

struct Built {
    std::unique_ptr<Graph> graph;
    std::vector<ValueInfo> infos;
};

/// Every value's concrete type and shape (the graphs here have static shapes).
std::vector<ValueInfo> inferredInfos(const Graph& g) {
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    std::vector<ValueInfo> infos = initialValueInfos(g);
    EXPECT_TRUE(inferShapes(g, infos, options).isOk());
    return infos;
}

/// a = Relu(x), b = Sigmoid(x), c = Concat(a, b, axis 1), y = Tanh(c); x is [batch, 16, 4, 4].
Built reluSigmoidConcat(int64_t batch, bool alsoReadA) {
    Built b;
    b.graph = std::make_unique<Graph>();
    Graph& g = *b.graph;
    Value* x = g.addInput("x", DataType::kFLOAT, {Dim(batch), Dim(16), Dim(4), Dim(4)});
    Value* a = g.addNode("Relu", "relu", {x}, {"a"}, 1)->output(0);
    Value* s = g.addNode("Sigmoid", "sigmoid", {x}, {"s"}, 1)->output(0);
    Node* concat = g.addNode("Concat", "concat", {a, s}, {"c"}, 1);
    concat->attrs.set("axis", int64_t{1});
    g.markOutput(g.addNode("Tanh", "tanh", {concat->output(0)}, {"y"}, 1)->output(0));
    if (alsoReadA) g.markOutput(g.addNode("Exp", "exp", {a}, {"e"}, 1)->output(0));
    b.infos = inferredInfos(g);
    return b;
}

size_t id(const Graph& g, const char* name) {
    return static_cast<size_t>(g.findValue(name)->id);
}

TEST(ConcatElision, SlicesLiveInsideTheOutputAndTheConcatDoesNotRun) {
    Built b = reluSigmoidConcat(1, false);
    auto layout = layoutExecution(*b.graph, b.infos, 64);
    ASSERT_TRUE(layout.isOk()) << layout.status().message();
    ASSERT_EQ(layout->elidedNodes.size(), 1u);
    EXPECT_EQ(b.graph->nodes()[layout->elidedNodes[0]]->opType, "Concat");
    EXPECT_EQ(layout->runNodes.size(), 3u);
    const Graph& g = *b.graph;
    size_t c = layout->arenaOffset[id(g, "c")];
    EXPECT_EQ(layout->arenaOffset[id(g, "a")], c);
    EXPECT_EQ(layout->arenaOffset[id(g, "s")], c + 16 * 16 * sizeof(float));
    // One buffer of c's size: the slices add nothing.
    EXPECT_EQ(layout->arenaBytes, 32 * 16 * sizeof(float));
}

TEST(ConcatElision, NotWhenSlicesAreStridedOrReadElsewhere) {
    Built strided = reluSigmoidConcat(2, false);  // batch 2: each slice is two separate runs
    auto layout = layoutExecution(*strided.graph, strided.infos, 64);
    ASSERT_TRUE(layout.isOk());
    EXPECT_TRUE(layout->elidedNodes.empty());
    Built shared = reluSigmoidConcat(1, true);  // a is read by Exp as well
    layout = layoutExecution(*shared.graph, shared.infos, 64);
    ASSERT_TRUE(layout.isOk());
    EXPECT_TRUE(layout->elidedNodes.empty());
}

TEST(ConcatElision, EngineValuesMatchAReference) {
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 16, 4, 4});
    ITensor* a = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
    ITensor* s = net->addActivation(*x, ActivationType::kSIGMOID)->getOutput(0);
    LayerAttributes axis;
    axis.setInt("axis", 1);
    ITensor* c = net->addLayer("Concat", {a, s}, 1, axis)->getOutput(0);
    ITensor* y = net->addActivation(*c, ActivationType::kTANH)->getOutput(0);
    net->markOutput(*y);
    Tensor in = randomTensor(DataType::kFLOAT, {1, 16, 4, 4}, -3, 3, 11);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"x", in}}, logger);
    ASSERT_TRUE(run.ok);
    std::vector<double> expected;
    for (int half = 0; half < 2; ++half)
        for (int64_t i = 0; i < in.elementCount(); ++i) {
            double v = in.data<float>()[i];
            expected.push_back(std::tanh(half == 0 ? std::max(v, 0.0) : 1.0 / (1.0 + std::exp(-v))));
        }
    EXPECT_EQ(compareWithReference(run.outputs[0], expected, 1e-6, 1e-7), "");
}

/// x -> Relu (a) -> Sigmoid (b) -> Tanh (y, output); `keepA` also reads a at the end.
Built activationChain(bool keepA) {
    Built b;
    b.graph = std::make_unique<Graph>();
    Graph& g = *b.graph;
    Value* x = g.addInput("x", DataType::kFLOAT, {Dim(8), Dim(32)});
    Value* a = g.addNode("Relu", "relu", {x}, {"a"}, 1)->output(0);
    Value* s = g.addNode("Sigmoid", "sigmoid", {a}, {"b"}, 1)->output(0);
    Value* t = g.addNode("Tanh", "tanh", {s}, {"t"}, 1)->output(0);
    g.markOutput(keepA ? g.addNode("Add", "add", {t, a}, {"y"}, 1)->output(0)
                       : g.addNode("Exp", "exp", {t}, {"y"}, 1)->output(0));
    b.infos = inferredInfos(g);
    return b;
}

TEST(InPlace, AnOutputTakesOverTheInputThatDiesThere) {
    Built b = activationChain(false);
    const Graph& g = *b.graph;
    auto anywhere = [](const Node&, size_t) { return true; };
    auto layout = layoutExecution(g, b.infos, 64, anywhere);
    ASSERT_TRUE(layout.isOk());
    EXPECT_EQ(layout->arenaOffset[id(g, "b")], layout->arenaOffset[id(g, "a")]);
    EXPECT_EQ(layout->arenaOffset[id(g, "t")], layout->arenaOffset[id(g, "a")]);
    EXPECT_EQ(layout->arenaBytes, 8 * 32 * sizeof(float));
    auto separate = layoutExecution(g, b.infos, 64);  // no policy: a and b are live together
    ASSERT_TRUE(separate.isOk());
    EXPECT_EQ(separate->arenaBytes, 2 * 8 * 32 * sizeof(float));
}

TEST(InPlace, NotOverAnInputThatIsReadLater) {
    Built b = activationChain(true);
    const Graph& g = *b.graph;
    auto layout = layoutExecution(g, b.infos, 64, [](const Node&, size_t) { return true; });
    ASSERT_TRUE(layout.isOk());
    EXPECT_NE(layout->arenaOffset[id(g, "b")], layout->arenaOffset[id(g, "a")]);  // a is read by Add
    EXPECT_EQ(layout->arenaOffset[id(g, "t")], layout->arenaOffset[id(g, "b")]);  // b dies at Tanh
}

/// a = Relu(x) [2, 8, 4]; r = Reshape(a, [2, 32]); s = Sigmoid(r); y = Add(Reshape(s, [2, 8, 4]), a):
/// the relabels r and s2 share a's and s's buffers, and a is read again by the Add.
Built relabelChain() {
    Built b;
    b.graph = std::make_unique<Graph>();
    Graph& g = *b.graph;
    Value* x = g.addInput("x", DataType::kFLOAT, {Dim(2), Dim(8), Dim(4)});
    Value* a = g.addNode("Relu", "relu", {x}, {"a"}, 1)->output(0);
    Tensor flat = Tensor::allocate(DataType::kINT64, {2});
    flat.data<int64_t>()[0] = 2;
    flat.data<int64_t>()[1] = 32;
    Tensor back = Tensor::allocate(DataType::kINT64, {3});
    back.data<int64_t>()[0] = 2;
    back.data<int64_t>()[1] = 8;
    back.data<int64_t>()[2] = 4;
    Value* r = g.addNode("Reshape", "flatten", {a, g.addConstant("flat", std::move(flat))}, {"r"}, 1)->output(0);
    Value* s = g.addNode("Sigmoid", "sigmoid", {r}, {"s"}, 1)->output(0);
    Value* s2 = g.addNode("Reshape", "unflatten", {s, g.addConstant("back", std::move(back))}, {"s2"}, 1)->output(0);
    g.markOutput(g.addNode("Add", "add", {s2, a}, {"y"}, 1)->output(0));
    b.infos = inferredInfos(g);
    return b;
}

TEST(Relabel, AReshapeSharesItsInputsBufferThatIsReadLater) {
    Built b = relabelChain();
    const Graph& g = *b.graph;
    auto layout = layoutExecution(g, b.infos, 64);
    ASSERT_TRUE(layout.isOk()) << layout.status().message();
    EXPECT_EQ(layout->arenaOffset[id(g, "r")], layout->arenaOffset[id(g, "a")]);
    EXPECT_EQ(layout->arenaOffset[id(g, "s2")], layout->arenaOffset[id(g, "s")]);
    EXPECT_NE(layout->arenaOffset[id(g, "s")], layout->arenaOffset[id(g, "a")]);  // both live at the Add
    EXPECT_EQ(layout->arenaBytes, 2 * 64 * sizeof(float));
}

TEST(Relabel, NothingIsWrittenOverABufferARelabelStillReads) {
    Built b = relabelChain();
    const Graph& g = *b.graph;
    // r dies at the Sigmoid, but its buffer is a's, which the Add reads later: the Sigmoid must not
    // write over it, whatever the backend allows.
    auto layout = layoutExecution(g, b.infos, 64, [](const Node&, size_t) { return true; });
    ASSERT_TRUE(layout.isOk());
    EXPECT_NE(layout->arenaOffset[id(g, "s")], layout->arenaOffset[id(g, "a")]);
    EXPECT_EQ(layout->arenaOffset[id(g, "r")], layout->arenaOffset[id(g, "a")]);
}

TEST(Relabel, ARelabelOfAGraphInputViewsTheCallersBufferAndOutputsKeepTheirs) {
    Graph g;
    Value* x = g.addInput("x", DataType::kFLOAT, {Dim(4), Dim(6)});
    Tensor shape = Tensor::allocate(DataType::kINT64, {1});
    shape.data<int64_t>()[0] = 24;
    Value* r = g.addNode("Reshape", "flat", {x, g.addConstant("shape", std::move(shape))}, {"r"}, 1)->output(0);
    Value* e = g.addNode("Exp", "exp", {r}, {"e"}, 1)->output(0);
    g.markOutput(g.addNode("Flatten", "out", {e}, {"y"}, 1)->output(0));
    std::vector<ValueInfo> infos = inferredInfos(g);
    auto layout = layoutExecution(g, infos, 64);
    ASSERT_TRUE(layout.isOk()) << layout.status().message();
    // r is the caller's x under another shape (no copy); y is the caller's buffer, written from e's.
    EXPECT_EQ(layout->residence[id(g, "r")], Residence::kInput);
    EXPECT_EQ(layout->inputView[id(g, "r")], static_cast<int64_t>(id(g, "x")));
    EXPECT_EQ(layout->residence[id(g, "y")], Residence::kOutput);
    EXPECT_EQ(layout->arenaBytes, (24 * sizeof(float) + 63) / 64 * 64);  // e alone, at the 64-byte alignment
}

TEST(Relabel, RelabelsOfAnInputFollowItsBufferFromRunToRun) {
    // y = Exp(Unsqueeze(Unsqueeze(x))) + Unsqueeze(Unsqueeze(x)): two relabels deep, read twice, run on two
    // input buffers in turn (the aliases are bound to whichever buffer the caller gives).
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 5});
    const int64_t axes0[] = {0}, axes1[] = {2};
    ITensor* u = net->addLayer("Unsqueeze", {x, net->addConstant(Dims{1}, DataType::kINT64, axes0)}, 1,
                               LayerAttributes())->getOutput(0);
    u = net->addLayer("Unsqueeze", {u, net->addConstant(Dims{1}, DataType::kINT64, axes1)}, 1, LayerAttributes())
            ->getOutput(0);
    ITensor* e = net->addLayer("Exp", {u}, 1, LayerAttributes())->getOutput(0);
    ITensor* y = net->addElementWise(*e, *u, ElementWiseOperation::kSUM)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto config = builder->createBuilderConfig();
    auto plan = builder->buildSerializedNetwork(*net, *config);
    ASSERT_NE(plan, nullptr);
    auto engine = createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    ASSERT_NE(engine, nullptr);
    auto context = engine->createExecutionContext();
    ASSERT_NE(context, nullptr);
    Tensor out = Tensor::allocate(DataType::kFLOAT, {1, 3, 1, 5});
    ASSERT_TRUE(context->setTensorAddress("y", out.data()));
    for (uint32_t seed : {21u, 22u}) {
        Tensor in = randomTensor(DataType::kFLOAT, {3, 5}, -2, 2, seed);
        ASSERT_TRUE(context->setTensorAddress("x", in.data()));
        ASSERT_TRUE(context->execute());
        std::vector<double> expected;
        for (int64_t i = 0; i < in.elementCount(); ++i) expected.push_back(std::exp(in.data<float>()[i]) + in.data<float>()[i]);
        EXPECT_EQ(compareWithReference(out, expected, 1e-6, 1e-7), "") << "seed " << seed;
    }
}

TEST(Relabel, EngineValuesMatchAReference) {
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 8, 4});
    ITensor* a = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
    ITensor* r = net->addLayer("Flatten", {a}, 1, LayerAttributes().setInt("axis", 1))->getOutput(0);
    ITensor* s = net->addActivation(*r, ActivationType::kSIGMOID)->getOutput(0);
    const int64_t back[] = {2, 8, 4};
    ITensor* shape = net->addConstant(Dims{3}, DataType::kINT64, back);
    ITensor* s2 = net->addLayer("Reshape", {s, shape}, 1, LayerAttributes())->getOutput(0);
    net->markOutput(*net->addElementWise(*s2, *a, ElementWiseOperation::kSUM)->getOutput(0));
    Tensor in = randomTensor(DataType::kFLOAT, {2, 8, 4}, -3, 3, 12);
    auto config = builder->createBuilderConfig();
    EngineRun run = buildAndRun(*builder, *net, *config, {{"x", in}}, logger);
    ASSERT_TRUE(run.ok);
    std::vector<double> expected;
    for (int64_t i = 0; i < in.elementCount(); ++i) {
        const double relu = std::max<double>(in.data<float>()[i], 0.0);
        expected.push_back(1.0 / (1.0 + std::exp(-relu)) + relu);
    }
    EXPECT_EQ(compareWithReference(run.outputs[0], expected, 1e-6, 1e-7), "");
}

}  // namespace
}  // namespace kiln::test
