// Graph surgery (kiln/graph_surgeon.h) on small ONNX models built here with the protobuf classes:
// queries, subgraph replacement, removal and cleanup, sorting, constant folding checked against
// values computed here in double precision, and the folded model run by Kiln against the original.

#include "kiln/graph_surgeon.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../frontend/onnx_test_models.h"
#include "engine_runner.h"
#include "kiln/kiln.h"
#include "onnx.pb.h"

namespace kiln::test {
namespace {

using surgeon::NewNode;
using surgeon::NodeQuery;
using surgeon::OnnxGraph;

// --- building models (helpers: tests/unit/frontend/onnx_test_models.h) ---------------------

/// x[2,3] -> /block/Mul (w) -> /block/Add (b) -> /block/Relu -> /head/Sigmoid -> y.
onnx::ModelProto chainModel() {
    onnx::ModelProto model = makeModel(17);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addFloatInitializer(g, "w", {2, 3}, randomFloats(6, 1));
    addFloatInitializer(g, "b", {3}, randomFloats(3, 2));
    addNode(g, "Mul", {"x", "w"}, {"m"}, "/block/Mul");
    addNode(g, "Add", {"m", "b"}, {"a"}, "/block/Add");
    addNode(g, "Relu", {"a"}, {"r"}, "/block/Relu");
    addNode(g, "Sigmoid", {"r"}, {"y"}, "/head/Sigmoid");
    addOutput(g, "y");
    return model;
}

/// The shape chain and initializer arithmetic that folding must compute:
///   shp = Concat(Unsqueeze(Gather(Shape(x), 1)), [-1]) = [3, -1];  c = Unsqueeze(p * q + p, [1])
///   y = Reshape(x, shp) * c
onnx::ModelProto foldingModel(const std::vector<float>& p, const std::vector<float>& q) {
    onnx::ModelProto model = makeModel(17);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3, 4});
    addFloatInitializer(g, "p", {3}, p);
    addFloatInitializer(g, "q", {3}, q);
    addInt64Initializer(g, "index", {}, {1});
    addInt64Initializer(g, "axes0", {1}, {0});
    addInt64Initializer(g, "axes1", {1}, {1});
    addInt64Initializer(g, "minus_one", {1}, {-1});
    addNode(g, "Shape", {"x"}, {"s"}, "shape");
    setInt(addNode(g, "Gather", {"s", "index"}, {"g"}, "gather"), "axis", 0);
    addNode(g, "Unsqueeze", {"g", "axes0"}, {"u"}, "unsqueeze");
    setInt(addNode(g, "Concat", {"u", "minus_one"}, {"shp"}, "concat"), "axis", 0);
    addNode(g, "Reshape", {"x", "shp"}, {"xr"}, "reshape");
    addNode(g, "Mul", {"p", "q"}, {"pq"}, "mul_pq");
    addNode(g, "Add", {"pq", "p"}, {"c"}, "add_p");
    addNode(g, "Unsqueeze", {"c", "axes1"}, {"cu"}, "unsqueeze_c");
    addNode(g, "Mul", {"xr", "cu"}, {"y"}, "scale");
    addOutput(g, "y");
    return model;
}

struct Loaded {
    CapturingLogger logger;
    std::unique_ptr<OnnxGraph> graph;
    explicit Loaded(const onnx::ModelProto& model) {
        const std::string bytes = model.SerializeAsString();
        graph = OnnxGraph::loadFromMemory(bytes.data(), bytes.size(), logger);
    }
    std::string bytes() const {
        std::string out;
        EXPECT_TRUE(graph->serialize(out));
        return out;
    }
    onnx::ModelProto proto() const {
        onnx::ModelProto model;
        EXPECT_TRUE(model.ParseFromString(bytes()));
        return model;
    }
    std::string lastError() const { return logger.errors.empty() ? "" : logger.errors.back(); }
};

std::vector<std::string> opTypes(const onnx::ModelProto& model) {
    std::vector<std::string> ops;
    for (const auto& n : model.graph().node()) ops.push_back(n.op_type());
    return ops;
}

const onnx::TensorProto* findInitializer(const onnx::ModelProto& model, const std::string& name) {
    for (const auto& t : model.graph().initializer())
        if (t.name() == name) return &t;
    return nullptr;
}

/// Every node reads only tensors defined before it.
bool topologicallyValid(const onnx::ModelProto& model) {
    std::set<std::string> defined;
    for (const auto& t : model.graph().initializer()) defined.insert(t.name());
    for (const auto& i : model.graph().input()) defined.insert(i.name());
    for (const auto& n : model.graph().node()) {
        for (const auto& in : n.input())
            if (!in.empty() && !defined.count(in)) return false;
        for (const auto& out : n.output()) defined.insert(out);
    }
    return true;
}

/// Parses the serialized model with Kiln's parser, builds it for the CPU and runs it on `inputs`.
EngineRun runWithKiln(const std::string& bytes, const std::map<std::string, Tensor>& inputs) {
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto network = builder->createNetwork();
    auto parser = createParser(*network, logger);
    if (!parser->parse(bytes.data(), bytes.size(), nullptr)) return {};
    auto config = builder->createBuilderConfig();
    return buildAndRun(*builder, *network, *config, inputs, logger);
}

Tensor floatTensor(const Shape& shape, const std::vector<float>& values) {
    Tensor t = Tensor::allocate(DataType::kFLOAT, shape);
    std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
    return t;
}

// --- queries ----------------------------------------------------------------------------------

TEST(GraphSurgeon, FindsNodesByEachCriterionAndTheirCombination) {
    onnx::ModelProto model = chainModel();
    onnx::NodeProto* custom = addNode(model.mutable_graph(), "Relu", {"r"}, {"z"}, "/head/Custom");
    custom->set_domain("com.example");
    Loaded l(model);
    ASSERT_TRUE(l.graph) << l.lastError();

    using V = std::vector<std::string>;
    EXPECT_EQ(l.graph->findNodes({.name = "/block/Add"}), V{"/block/Add"});
    EXPECT_EQ(l.graph->findNodes({.opType = "Relu"}), (V{"/block/Relu", "/head/Custom"}));
    EXPECT_EQ(l.graph->findNodes({.domain = "com.example"}), V{"/head/Custom"});
    EXPECT_EQ(l.graph->findNodes({.domain = ""}).size(), 4u);
    EXPECT_EQ(l.graph->findNodes({.domain = "ai.onnx"}).size(), 4u);
    EXPECT_EQ(l.graph->findNodes({.namePrefix = "/block/"}), (V{"/block/Mul", "/block/Add", "/block/Relu"}));
    EXPECT_EQ(l.graph->findNodes({.opType = "Relu", .domain = "", .namePrefix = "/block/"}), V{"/block/Relu"});
    EXPECT_TRUE(l.graph->findNodes({.name = "/block/Add", .opType = "Mul"}).empty());
    EXPECT_EQ(l.graph->findNodes({}).size(), 5u);
}

TEST(GraphSurgeon, DescribesNodesAndTensors) {
    Loaded l(chainModel());
    ASSERT_TRUE(l.graph);
    auto add = l.graph->node("/block/Add");
    ASSERT_TRUE(add);
    EXPECT_EQ(add->opType, "Add");
    EXPECT_EQ(add->inputs, (std::vector<std::string>{"m", "b"}));
    EXPECT_EQ(add->outputs, std::vector<std::string>{"a"});
    EXPECT_FALSE(l.graph->node("nope"));

    auto b = l.graph->tensor("b");
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->isInitializer);
    EXPECT_EQ(b->consumers, std::vector<std::string>{"/block/Add"});
    auto y = l.graph->tensor("y");
    ASSERT_TRUE(y);
    EXPECT_EQ(y->producer, "/head/Sigmoid");
    EXPECT_TRUE(y->isGraphOutput);
    EXPECT_TRUE(l.graph->tensor("x")->isGraphInput);
    EXPECT_FALSE(l.graph->tensor("missing"));
}

TEST(GraphSurgeon, NamesUnnamedNodesOnLoad) {
    onnx::ModelProto model = chainModel();
    model.mutable_graph()->mutable_node(1)->clear_name();
    Loaded l(model);
    ASSERT_TRUE(l.graph);
    EXPECT_EQ(l.graph->nodeNames()[1], "Add_1");
}

// --- replacing a subgraph -----------------------------------------------------------------------

TEST(GraphSurgeon, ReplacesAChainByOneCustomNodeWithItsBoundary) {
    Loaded l(chainModel());
    ASSERT_TRUE(l.graph);
    LayerAttributes attrs;
    attrs.setFloat("alpha", 0.5f).setInts("axes", {1, 2});
    NewNode fused{"fused", "FusedMulAddRelu", "kiln.test", attrs, {}, {}};
    ASSERT_TRUE(l.graph->replaceSubgraph(l.graph->findNodes({.namePrefix = "/block/"}), fused)) << l.lastError();

    auto node = l.graph->node("fused");
    ASSERT_TRUE(node);
    EXPECT_EQ(node->inputs, (std::vector<std::string>{"x", "w", "b"}));
    EXPECT_EQ(node->outputs, std::vector<std::string>{"r"});
    EXPECT_EQ(node->attributeNames, (std::vector<std::string>{"alpha", "axes"}));
    const onnx::ModelProto saved = l.proto();
    EXPECT_EQ(opTypes(saved), (std::vector<std::string>{"FusedMulAddRelu", "Sigmoid"}));
    EXPECT_TRUE(topologicallyValid(saved));
    bool domainImported = false;
    for (const auto& id : saved.opset_import()) domainImported = domainImported || id.domain() == "kiln.test";
    EXPECT_TRUE(domainImported);
}

TEST(GraphSurgeon, BoundaryWithoutInitializersLeavesThemToCleanup) {
    Loaded l(chainModel());
    ASSERT_TRUE(l.graph);
    NewNode fused{"fused", "Plugin", "kiln.test", {}, {}, {}};
    ASSERT_TRUE(l.graph->replaceSubgraph({"/block/Mul", "/block/Add", "/block/Relu"}, fused, {.initializerInputs = false}));
    EXPECT_EQ(l.graph->node("fused")->inputs, std::vector<std::string>{"x"});
    ASSERT_TRUE(l.graph->cleanup());
    EXPECT_EQ(l.proto().graph().initializer_size(), 0);
}

TEST(GraphSurgeon, ReplacementMovesToATopologicallyValidPlace) {
    // A: x -> a; B: x -> bb (outside the set); C: (a, bb) -> c; D: c -> y. Replacing {A, C} puts the
    // new node after B, whose output it reads.
    onnx::ModelProto model = makeModel(17);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {4});
    addNode(g, "Relu", {"x"}, {"a"}, "A");
    addNode(g, "Neg", {"x"}, {"bb"}, "B");
    addNode(g, "Add", {"a", "bb"}, {"c"}, "C");
    addNode(g, "Abs", {"c"}, {"y"}, "D");
    addOutput(g, "y");
    Loaded l(model);
    ASSERT_TRUE(l.graph->replaceSubgraph({"A", "C"}, {"N", "ReluAdd", "kiln.test", {}, {}, {}}));
    EXPECT_EQ(l.graph->nodeNames(), (std::vector<std::string>{"B", "N", "D"}));
    EXPECT_EQ(l.graph->node("N")->inputs, (std::vector<std::string>{"x", "bb"}));
    EXPECT_TRUE(topologicallyValid(l.proto()));
}

TEST(GraphSurgeon, ReplacementThatWouldMakeACycleFailsAndChangesNothing) {
    // A: x -> a; B: a -> bb (outside); C: bb -> c. One node for {A, C} would read bb, which B
    // computes from the new node's own output a.
    onnx::ModelProto model = makeModel(17);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {4});
    addNode(g, "Relu", {"x"}, {"a"}, "A");
    addNode(g, "Neg", {"a"}, {"bb"}, "B");
    addNode(g, "Abs", {"bb"}, {"c"}, "C");
    addOutput(g, "c");
    Loaded l(model);
    const std::string before = l.bytes();
    EXPECT_FALSE(l.graph->replaceSubgraph({"A", "C"}, {"N", "Op", "kiln.test", {}, {}, {}}));
    EXPECT_NE(l.lastError().find("cycle"), std::string::npos) << l.lastError();
    EXPECT_EQ(l.bytes(), before);
}

TEST(GraphSurgeon, ReplacementErrorsNameTheProblemAndChangeNothing) {
    Loaded l(chainModel());
    const std::string before = l.bytes();
    // Unknown node.
    EXPECT_FALSE(l.graph->replaceSubgraph({"/block/Mul", "nope"}, {"N", "Op", "", {}, {}, {}}));
    EXPECT_NE(l.lastError().find("no node is called 'nope'"), std::string::npos) << l.lastError();
    // An explicit output list that drops a tensor read outside.
    EXPECT_FALSE(l.graph->replaceSubgraph({"/block/Mul", "/block/Add"}, {"N", "Op", "", {}, {"x"}, {"m"}}));
    EXPECT_NE(l.lastError().find("'a'"), std::string::npos) << l.lastError();
    EXPECT_NE(l.lastError().find("/block/Relu"), std::string::npos) << l.lastError();
    // An input produced inside the set.
    EXPECT_FALSE(l.graph->replaceSubgraph({"/block/Mul", "/block/Add"}, {"N", "Op", "", {}, {"m"}, {"a"}}));
    EXPECT_NE(l.lastError().find("produced inside"), std::string::npos) << l.lastError();
    // A name taken by a node that stays.
    EXPECT_FALSE(l.graph->replaceSubgraph({"/block/Mul"}, {"/head/Sigmoid", "Op", "", {}, {}, {}}));
    EXPECT_NE(l.lastError().find("taken"), std::string::npos) << l.lastError();
    EXPECT_EQ(l.bytes(), before);
}

// --- removing, inserting, cleaning up, sorting -------------------------------------------------

TEST(GraphSurgeon, RemovesNodesAndCleansUp) {
    onnx::ModelProto model = chainModel();
    onnx::GraphProto* g = model.mutable_graph();
    addNode(g, "Neg", {"m"}, {"dead1"}, "dead_neg");
    addNode(g, "Abs", {"dead1"}, {"dead2"}, "dead_abs");
    addFloatInitializer(g, "unused", {2}, {1.f, 2.f});
    g->add_value_info()->set_name("dead2");
    g->add_value_info()->set_name("a");
    addInput(g, "unused_input", {1});
    Loaded l(model);

    const std::string before = l.bytes();
    EXPECT_FALSE(l.graph->removeNodes({"dead_neg"}));  // dead_abs still reads its output
    EXPECT_NE(l.lastError().find("'dead_abs'"), std::string::npos) << l.lastError();
    EXPECT_FALSE(l.graph->removeNodes({"/head/Sigmoid"}));
    EXPECT_NE(l.lastError().find("graph output 'y' would lose its producer"), std::string::npos) << l.lastError();
    EXPECT_EQ(l.bytes(), before);

    ASSERT_TRUE(l.graph->removeNodes({"dead_abs"}));
    ASSERT_TRUE(l.graph->cleanup({.removeUnusedGraphInputs = true}));
    const onnx::ModelProto saved = l.proto();
    EXPECT_EQ(opTypes(saved), (std::vector<std::string>{"Mul", "Add", "Relu", "Sigmoid"}));
    EXPECT_FALSE(findInitializer(saved, "unused"));
    EXPECT_TRUE(findInitializer(saved, "w"));
    ASSERT_EQ(saved.graph().value_info_size(), 1);
    EXPECT_EQ(saved.graph().value_info(0).name(), "a");
    EXPECT_EQ(l.graph->graphInputs(), std::vector<std::string>{"x"});
}

TEST(GraphSurgeon, ReconnectsAroundRemovedPassThroughNodes) {
    onnx::ModelProto model = makeModel(17);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {4});
    addNode(g, "Relu", {"x"}, {"r"}, "relu");
    addNode(g, "Identity", {"r"}, {"i1"}, "id1");
    addNode(g, "Identity", {"i1"}, {"i2"}, "id2");
    addNode(g, "Neg", {"i2"}, {"y"}, "neg");
    addOutput(g, "y");
    Loaded l(model);
    ASSERT_TRUE(l.graph->removeNodes(l.graph->findNodes({.opType = "Identity"}), true)) << l.lastError();
    EXPECT_EQ(l.graph->node("neg")->inputs, std::vector<std::string>{"r"});
    EXPECT_EQ(l.graph->nodeNames(), (std::vector<std::string>{"relu", "neg"}));
}

TEST(GraphSurgeon, InsertsANodeAfterItsInputs) {
    Loaded l(chainModel());
    ASSERT_TRUE(l.graph->insertNode({"tap", "Neg", "", {}, {"a"}, {"a_neg"}})) << l.lastError();
    EXPECT_EQ(l.graph->nodeNames()[2], "tap");
    EXPECT_FALSE(l.graph->insertNode({"tap2", "Neg", "", {}, {"a"}, {"y"}}));  // y exists
    EXPECT_FALSE(l.graph->insertNode({"tap3", "Neg", "", {}, {"nothing"}, {"q"}}));
}

TEST(GraphSurgeon, SortsStablyAndReportsCycles) {
    onnx::ModelProto model = chainModel();
    onnx::GraphProto* g = model.mutable_graph();
    g->mutable_node()->SwapElements(0, 3);  // Sigmoid, Add, Relu, Mul
    Loaded l(model);
    ASSERT_TRUE(l.graph->toposort()) << l.lastError();
    EXPECT_EQ(l.graph->nodeNames(), (std::vector<std::string>{"/block/Mul", "/block/Add", "/block/Relu", "/head/Sigmoid"}));

    onnx::ModelProto cyclic = makeModel(17);
    addInput(cyclic.mutable_graph(), "x", {4});
    addNode(cyclic.mutable_graph(), "Add", {"x", "q"}, {"p"}, "P");
    addNode(cyclic.mutable_graph(), "Neg", {"p"}, {"q"}, "Q");
    addOutput(cyclic.mutable_graph(), "q");
    Loaded c(cyclic);
    const std::string before = c.bytes();
    EXPECT_FALSE(c.graph->toposort());
    EXPECT_NE(c.lastError().find("cycle"), std::string::npos) << c.lastError();
    EXPECT_NE(c.lastError().find("'P'"), std::string::npos) << c.lastError();
    EXPECT_EQ(c.bytes(), before);
}

// --- constant folding ---------------------------------------------------------------------------

TEST(GraphSurgeon, FoldsShapeChainsAndInitializerArithmetic) {
    const std::vector<float> p = randomFloats(3, 11), q = randomFloats(3, 12);
    Loaded l(foldingModel(p, q));
    ASSERT_TRUE(l.graph);
    EXPECT_EQ(l.graph->foldConstants(), 7) << l.lastError();
    ASSERT_TRUE(l.graph->cleanup());
    const onnx::ModelProto folded = l.proto();
    EXPECT_EQ(opTypes(folded), (std::vector<std::string>{"Reshape", "Mul"}));

    const onnx::TensorProto* shp = findInitializer(folded, "shp");
    ASSERT_TRUE(shp);
    ASSERT_EQ(shp->data_type(), onnx::TensorProto::INT64);
    std::vector<int64_t> shape(2);
    ASSERT_EQ(shp->raw_data().size(), sizeof(int64_t) * 2);
    std::memcpy(shape.data(), shp->raw_data().data(), sizeof(int64_t) * 2);
    EXPECT_EQ(shape, (std::vector<int64_t>{3, -1}));

    const onnx::TensorProto* cu = findInitializer(folded, "cu");
    ASSERT_TRUE(cu);
    EXPECT_EQ(std::vector<int64_t>(cu->dims().begin(), cu->dims().end()), (std::vector<int64_t>{3, 1}));
    ASSERT_EQ(cu->raw_data().size(), 3 * sizeof(float));
    std::vector<float> values(3);
    std::memcpy(values.data(), cu->raw_data().data(), 3 * sizeof(float));
    for (size_t i = 0; i < 3; ++i) {
        const double expected = double(p[i]) * double(q[i]) + double(p[i]);
        EXPECT_NEAR(values[i], expected, 1e-6 * (1 + std::abs(expected))) << i;
    }
    EXPECT_FALSE(findInitializer(folded, "q"));  // only the folded nodes read it
}

TEST(GraphSurgeon, FoldedModelRunsLikeTheOriginal) {
    const std::vector<float> p = randomFloats(3, 21), q = randomFloats(3, 22), x = randomFloats(24, 23);
    const onnx::ModelProto original = foldingModel(p, q);
    Loaded l(original);
    ASSERT_GT(l.graph->foldConstants(), 0);
    ASSERT_TRUE(l.graph->cleanup());
    ASSERT_TRUE(l.graph->toposort());

    const std::map<std::string, Tensor> inputs{{"x", floatTensor({2, 3, 4}, x)}};
    EngineRun before = runWithKiln(original.SerializeAsString(), inputs);
    EngineRun after = runWithKiln(l.bytes(), inputs);
    ASSERT_TRUE(before.ok);
    ASSERT_TRUE(after.ok);
    ASSERT_EQ(after.outputs.size(), 1u);
    ASSERT_EQ(after.outputs[0].shape(), (Shape{3, 8}));
    const float* a = before.outputs[0].data<float>();
    const float* b = after.outputs[0].data<float>();
    for (int64_t i = 0; i < 24; ++i) {
        const size_t row = static_cast<size_t>(i / 8);
        const double expected = double(x[static_cast<size_t>(i)]) * (double(p[row]) * double(q[row]) + double(p[row]));
        EXPECT_NEAR(b[i], expected, 1e-5) << i;
        EXPECT_NEAR(b[i], a[i], 1e-6) << i;
    }
}

TEST(GraphSurgeon, FoldingRespectsTheSizeLimitAndKeepsTheModelValid) {
    const std::vector<float> p = randomFloats(3, 31), q = randomFloats(3, 32), x = randomFloats(24, 33);
    Loaded l(foldingModel(p, q));
    // 12 bytes: Shape's 3 int64 (24 bytes) and Concat's 2 (16) stay; Gather, Unsqueeze and the
    // three-float arithmetic fold.
    EXPECT_EQ(l.graph->foldConstants({.maxTensorBytes = 12}), 5);
    ASSERT_TRUE(l.graph->cleanup());
    EXPECT_EQ(opTypes(l.proto()), (std::vector<std::string>{"Concat", "Reshape", "Mul"}));
    EngineRun run = runWithKiln(l.bytes(), {{"x", floatTensor({2, 3, 4}, x)}});
    ASSERT_TRUE(run.ok);
    for (int64_t i = 0; i < 24; ++i) {
        const size_t row = static_cast<size_t>(i / 8);
        EXPECT_NEAR(run.outputs[0].data<float>()[i], double(x[static_cast<size_t>(i)]) * (double(p[row]) * q[row] + p[row]), 1e-5);
    }
}

TEST(GraphSurgeon, DoesNotFoldRandomNodesOrUnknownOps) {
    onnx::ModelProto model = makeModel(17);
    onnx::GraphProto* g = model.mutable_graph();
    onnx::NodeProto* random = addNode(g, "RandomNormal", {}, {"r"}, "random");
    auto* shape = random->add_attribute();
    shape->set_name("shape");
    shape->set_type(onnx::AttributeProto::INTS);
    shape->add_ints(2);
    addFloatInitializer(g, "w", {2}, {1.f, 2.f});
    addNode(g, "Add", {"r", "w"}, {"sum"}, "add");
    addNode(g, "MysteryOp", {"w"}, {"mystery"}, "mystery")->set_domain("com.example");
    addNode(g, "Neg", {"w"}, {"neg"}, "neg");
    addOutput(g, "sum");
    addOutput(g, "mystery");
    addOutput(g, "neg");
    Loaded l(model);
    EXPECT_EQ(l.graph->foldConstants(), 1) << l.lastError();  // neg only
    EXPECT_EQ(l.graph->nodeNames(), (std::vector<std::string>{"random", "add", "mystery"}));
    EXPECT_TRUE(findInitializer(l.proto(), "neg"));
}

// --- files ---------------------------------------------------------------------------------------

TEST(GraphSurgeon, BadFilesFailWithAMessage) {
    CapturingLogger logger;
    EXPECT_FALSE(OnnxGraph::load("/nonexistent/model.onnx", logger));
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("/nonexistent/model.onnx"), std::string::npos);
    const std::string garbage = "this is not protobuf";
    EXPECT_FALSE(OnnxGraph::loadFromMemory(garbage.data(), garbage.size(), logger));
    Loaded l(chainModel());
    EXPECT_FALSE(l.graph->save("/nonexistent/folder/out.onnx"));
    EXPECT_NE(l.lastError().find("cannot save"), std::string::npos) << l.lastError();
}

TEST(GraphSurgeon, ReadsExternalDataInSoTheModelSavesAnywhere) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kiln_surgeon_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "weights");
    onnx::ModelProto model = chainModel();
    // Move w's bytes into weights/w.bin.
    onnx::TensorProto* w = model.mutable_graph()->mutable_initializer(0);
    const std::string bytes = w->raw_data();
    std::ofstream(dir / "weights" / "w.bin", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    w->clear_raw_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* location = w->add_external_data();
    location->set_key("location");
    location->set_value("weights/w.bin");
    std::ofstream(dir / "model.onnx", std::ios::binary) << model.SerializeAsString();

    CapturingLogger logger;
    auto graph = OnnxGraph::load((dir / "model.onnx").c_str(), logger);
    ASSERT_TRUE(graph);
    const std::filesystem::path elsewhere = dir / "elsewhere.onnx";
    ASSERT_TRUE(graph->save(elsewhere.c_str()));
    std::filesystem::remove_all(dir / "weights");
    auto reloaded = OnnxGraph::load(elsewhere.c_str(), logger);
    ASSERT_TRUE(reloaded);
    std::string saved;
    ASSERT_TRUE(reloaded->serialize(saved));
    onnx::ModelProto proto;
    ASSERT_TRUE(proto.ParseFromString(saved));
    EXPECT_EQ(findInitializer(proto, "w")->raw_data(), bytes);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln::test
