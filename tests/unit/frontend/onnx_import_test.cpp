// The ONNX importer on whole models: structure, shapes, names, subgraphs and the verbose log.

#include <gtest/gtest.h>

#include <algorithm>

#include "ir/control_flow.h"
#include "ir/op_registry.h"
#include "ir/verifier.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

using Severity = ILogger::Severity;

/// input (N, 3, 8, 8) -> Conv 4x3x3x3 pad 1 -> Relu -> Flatten -> Gemm (10 x 256, transB) -> out.
onnx::ModelProto convReluGemm(const D& batch, int64_t opset = 13) {
    onnx::ModelProto model = makeModel(opset);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "input", {batch, 3, 8, 8});
    addInitializer(g, floatTensor("conv_w", {4, 3, 3, 3}, randomFloats(4 * 3 * 3 * 3, 1)));
    addInitializer(g, floatTensor("conv_b", {4}, randomFloats(4, 2)));
    addInitializer(g, floatTensor("fc_w", {10, 256}, randomFloats(10 * 256, 3)));
    addInitializer(g, floatTensor("fc_b", {10}, randomFloats(10, 4)));
    onnx::NodeProto* conv = addNode(g, "Conv", {"input", "conv_w", "conv_b"}, {"conv_out"}, "conv1");
    setInts(conv, "kernel_shape", {3, 3});
    setInts(conv, "pads", {1, 1, 1, 1});
    addNode(g, "Relu", {"conv_out"}, {"relu_out"});
    onnx::NodeProto* flatten = addNode(g, "Flatten", {"relu_out"}, {"flat"});
    setInt(flatten, "axis", 1);
    onnx::NodeProto* gemm = addNode(g, "Gemm", {"flat", "fc_w", "fc_b"}, {"logits"}, "fc");
    setInt(gemm, "transB", 1);
    addOutput(g, "logits", onnx::TensorProto::FLOAT);
    return model;
}

TEST(OnnxImport, ConvReluGemmShapesAndStructure) {
    Import im;
    ASSERT_TRUE(im.parse(convReluGemm(2))) << im.errors();
    EXPECT_EQ(im.parser->getNbErrors(), 0);
    const Graph& g = im.graph();
    EXPECT_EQ(opTypes(g), (std::vector<std::string>{"Conv", "Relu", "Flatten", "Gemm"}));
    ASSERT_EQ(g.inputs().size(), 1u);
    EXPECT_EQ(g.inputs()[0]->name, "input");
    ASSERT_EQ(g.outputs().size(), 1u);
    const Value* logits = g.outputs()[0];
    EXPECT_EQ(logits->name, "logits");
    EXPECT_TRUE(logits->typeKnown);
    EXPECT_EQ(logits->dtype, DataType::kFLOAT);
    EXPECT_EQ(logits->shape, (SymShape{2, 10}));
    EXPECT_EQ(g.findValue("conv_out")->shape, (SymShape{2, 4, 8, 8}));
    EXPECT_EQ(g.findValue("flat")->shape, (SymShape{2, 256}));
    // Names: the ONNX name when given, "<OpType>_<index>" otherwise; sourceNodes name the ONNX node.
    EXPECT_EQ(g.nodes()[0]->name, "conv1");
    EXPECT_EQ(g.nodes()[1]->name, "Relu_1");
    EXPECT_EQ(g.nodes()[1]->sourceNodes, std::vector<std::string>{"Relu_1"});
    EXPECT_EQ(g.nodes()[0]->attrs.getInts("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
    // Initializers are constants holding the model's bytes.
    const Value* w = g.findValue("fc_w");
    ASSERT_TRUE(w && w->isConstant());
    std::vector<float> expected = randomFloats(10 * 256, 3);
    EXPECT_EQ(std::memcmp(w->constant->data(), expected.data(), expected.size() * sizeof(float)), 0);
    EXPECT_TRUE(verifyGraph(g)) << verifyGraph(g).message();
}

TEST(OnnxImport, DimParamSymbolsPropagate) {
    Import im;
    ASSERT_TRUE(im.parse(convReluGemm("batch"))) << im.errors();
    const Graph& g = im.graph();
    const SymShape& in = g.inputs()[0]->shape;
    ASSERT_EQ(in.size(), 4u);
    EXPECT_EQ(in[0].symbol, "batch");
    EXPECT_FALSE(in[0].isKnown());
    const SymShape& out = g.outputs()[0]->shape;
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0], Dim::named("batch"));
    EXPECT_EQ(out[1], Dim(10));
}

TEST(OnnxImport, DimWithNeitherValueNorParamIsUnknown) {
    Import im;
    ASSERT_TRUE(im.parse(convReluGemm(D()))) << im.errors();
    const Dim& d = im.graph().inputs()[0]->shape[0];
    EXPECT_FALSE(d.isKnown());
    EXPECT_TRUE(d.symbol.empty());
}

TEST(OnnxImport, ParsesFromFile) {
    TempDir dir;
    const std::string path = dir.write("model.onnx", convReluGemm(1).SerializeAsString());
    Import im;
    ASSERT_TRUE(im.parser->parseFromFile(path.c_str())) << im.errors();
    EXPECT_EQ(im.graph().outputs()[0]->shape, (SymShape{1, 10}));
}

TEST(OnnxImport, InitializerListedAsInputIsAConstant) {
    // IR version 3 models list every initializer among the graph inputs.
    onnx::ModelProto model = makeModel(9, 3);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addInput(g, "bias", {2, 3});
    addInitializer(g, floatTensor("bias", {2, 3}, randomFloats(6, 5)));
    addNode(g, "Add", {"x", "bias"}, {"y"});
    addOutput(g, "y");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    ASSERT_EQ(im.graph().inputs().size(), 1u);
    EXPECT_EQ(im.graph().inputs()[0]->name, "x");
    EXPECT_TRUE(im.graph().findValue("bias")->isConstant());
}

TEST(OnnxImport, ConstantNodesBecomeConstantsWithoutNodes) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    onnx::NodeProto* c1 = addNode(g, "Constant", {}, {"shift"});
    auto* value = c1->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    *value->mutable_t() = floatTensor("", {3}, {0.5f, -1.5f, 2.25f});
    onnx::NodeProto* c2 = addNode(g, "Constant", {}, {"shape"});
    setInts(c2, "value_ints", {3, 2});
    onnx::NodeProto* c3 = addNode(g, "Constant", {}, {"scale"});
    setFloat(c3, "value_float", 4.0f);
    addNode(g, "Add", {"x", "shift"}, {"a"});
    addNode(g, "Mul", {"a", "scale"}, {"m"});
    addNode(g, "Reshape", {"m", "shape"}, {"y"});
    addOutput(g, "y");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    const Graph& g2 = im.graph();
    EXPECT_EQ(opTypes(g2), (std::vector<std::string>{"Add", "Mul", "Reshape"}));
    const Value* shift = g2.findValue("shift");
    ASSERT_TRUE(shift && shift->isConstant());
    EXPECT_EQ(shift->constant->toDoubleVector(), (std::vector<double>{0.5, -1.5, 2.25}));
    EXPECT_EQ(int64Values(g2.findValue("shape")), (std::vector<int64_t>{3, 2}));
    const Value* scale = g2.findValue("scale");
    ASSERT_TRUE(scale && scale->isConstant());
    EXPECT_EQ(scale->constant->rank(), 0);
    EXPECT_EQ(scale->constant->elementAsDouble(0), 4.0);
    // The Reshape reads a constant shape, so its output shape is static.
    EXPECT_EQ(g2.outputs()[0]->shape, (SymShape{3, 2}));
}

TEST(OnnxImport, OmittedOptionalInputsAndOutputsAreNull) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {4, 5});
    addInitializer(g, floatTensor("hi", {}, {0.25f}));
    addNode(g, "Clip", {"x", "", "hi"}, {"clipped"});
    addNode(g, "Dropout", {"clipped"}, {"y", ""});
    onnx::NodeProto* split = addNode(g, "Split", {"y"}, {"s0", "", "s2", ""});
    setInt(split, "axis", 0);
    addOutput(g, "s0");
    addOutput(g, "s2");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    const Node* clip = findOp(im.graph(), "Clip");
    ASSERT_NE(clip, nullptr);
    ASSERT_EQ(clip->inputs.size(), 3u);
    EXPECT_EQ(clip->inputs[1], nullptr);
    EXPECT_EQ(clip->inputs[2]->name, "hi");
    const Node* dropout = findOp(im.graph(), "Dropout");
    ASSERT_NE(dropout, nullptr);
    ASSERT_EQ(dropout->outputs.size(), 2u);
    EXPECT_EQ(dropout->outputs[1], nullptr);
    const Node* splitNode = findOp(im.graph(), "Split");
    ASSERT_NE(splitNode, nullptr);
    ASSERT_EQ(splitNode->outputs.size(), 4u);
    EXPECT_EQ(splitNode->outputs[1], nullptr);
    EXPECT_EQ(splitNode->outputs[3], nullptr);
    EXPECT_EQ(splitNode->outputs[2]->shape, (SymShape{1, 5}));
    EXPECT_TRUE(verifyGraph(im.graph())) << verifyGraph(im.graph()).message();
}

TEST(OnnxImport, OutputsKeepTheModelsOrderAndNames) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 2});
    addNode(g, "Relu", {"x"}, {"first"});
    addNode(g, "Sigmoid", {"first"}, {"second"});
    addNode(g, "Tanh", {"second"}, {"third"});
    addOutput(g, "third");
    addOutput(g, "first");
    addOutput(g, "second");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    std::vector<std::string> names;
    for (const Value* v : im.graph().outputs()) names.push_back(v->name);
    EXPECT_EQ(names, (std::vector<std::string>{"third", "first", "second"}));
}

TEST(OnnxImport, ShapeComputationsFoldToStaticShapes) {
    // Seed 001: Shape -> Gather -> Unsqueeze -> Concat -> Reshape must give a static shape.
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3, 4});
    addInitializer(g, int64Tensor("idx0", {}, {0}));
    addInitializer(g, int64Tensor("axes0", {1}, {0}));
    addInitializer(g, int64Tensor("minus1", {1}, {-1}));
    addNode(g, "Shape", {"x"}, {"s"});
    addNode(g, "Gather", {"s", "idx0"}, {"n"});
    addNode(g, "Unsqueeze", {"n", "axes0"}, {"n1"});
    onnx::NodeProto* concat = addNode(g, "Concat", {"n1", "minus1"}, {"target"});
    setInt(concat, "axis", 0);
    addNode(g, "Reshape", {"x", "target"}, {"y"});
    addOutput(g, "y");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    EXPECT_EQ(im.graph().outputs()[0]->shape, (SymShape{2, 12}));
}

/// A test-only op in its own domain: one output shaped like input 0, a graph attribute "body".
void registerTestOps() {
    static const bool registered = [] {
        OpSchema schema;
        schema.opType = "WithBody";
        schema.domain = "kiln.test";
        schema.minInputs = 1;  // then the captured outer values
        schema.infer = [](InferenceContext& ctx) {
            ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
            return Status::ok();
        };
        OpRegistry::global().add(schema);
        return true;
    }();
    (void)registered;
}

TEST(OnnxImport, SubgraphCapturesOuterValuesAsTrailingInputs) {
    registerTestOps();
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addInitializer(g, floatTensor("w", {2, 3}, randomFloats(6, 7)));
    addNode(g, "Relu", {"x"}, {"r"});
    onnx::NodeProto* outer = addNode(g, "WithBody", {"r"}, {"y"}, "outer");
    outer->set_domain("kiln.test");
    auto* attr = outer->add_attribute();
    attr->set_name("body");
    attr->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* body = attr->mutable_g();
    body->set_name("body");
    addInput(body, "b_in", {2, 3});
    addNode(body, "Add", {"b_in", "r"}, {"sum"});      // r: an outer node's output
    addNode(body, "Mul", {"sum", "w"}, {"b_out"});     // w: an outer initializer
    addNode(body, "Sub", {"b_out", "r"}, {"b_last"});  // r again: captured once
    addOutput(body, "b_last");
    addOutput(g, "y");

    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    const Node* node = im.graph().findNode("outer");
    ASSERT_NE(node, nullptr);
    EXPECT_EQ(node->domain, "kiln.test");
    // The captured outer value is also the node's trailing input, counted by an attribute.
    ASSERT_EQ(node->inputs.size(), 2u);
    EXPECT_EQ(node->inputs[1]->name, "r");
    EXPECT_EQ(node->attrs.getInt(kCapturedInputsAttr, 0), 1);
    std::shared_ptr<Graph> sub = node->attrs.getGraph("body");
    ASSERT_TRUE(sub);
    ASSERT_EQ(sub->inputs().size(), 2u);
    EXPECT_EQ(sub->inputs()[0]->name, "b_in");
    EXPECT_EQ(sub->inputs()[1]->name, "r");
    EXPECT_EQ(sub->inputs()[1]->shape, (SymShape{2, 3}));
    const Value* w = sub->findValue("w");
    ASSERT_TRUE(w && w->isConstant());
    EXPECT_FALSE(sub->isGraphInput(w));
    EXPECT_EQ(opTypes(*sub), (std::vector<std::string>{"Add", "Mul", "Sub"}));
    ASSERT_EQ(sub->outputs().size(), 1u);
    EXPECT_EQ(sub->outputs()[0]->shape, (SymShape{2, 3}));
    EXPECT_TRUE(verifyGraph(*sub)) << verifyGraph(*sub).message();
}

/// Adds a kiln.test::WithBody node reading `input`, with a fresh graph attribute "body" returned.
onnx::GraphProto* addWithBody(onnx::GraphProto* g, const std::string& input, const std::string& output,
                              const std::string& name) {
    onnx::NodeProto* node = addNode(g, "WithBody", {input}, {output}, name);
    node->set_domain("kiln.test");
    auto* attr = node->add_attribute();
    attr->set_name("body");
    attr->set_type(onnx::AttributeProto::GRAPH);
    attr->mutable_g()->set_name(name + "_body");
    return attr->mutable_g();
}

TEST(OnnxImport, NestedSubgraphsCaptureThroughTheirParent) {
    registerTestOps();
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {4});
    addNode(g, "Neg", {"x"}, {"outer_value"});
    onnx::GraphProto* middle = addWithBody(g, "x", "y", "middle");
    addNode(middle, "Relu", {"x"}, {"m"});
    onnx::GraphProto* inner = addWithBody(middle, "m", "m2", "inner");
    addNode(inner, "Add", {"outer_value", "m"}, {"i"});  // from two levels up, and from the parent
    addOutput(inner, "i");
    addOutput(middle, "m2");
    addOutput(g, "y");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    std::shared_ptr<Graph> middleGraph = im.graph().findNode("middle")->attrs.getGraph("body");
    ASSERT_TRUE(middleGraph);
    std::vector<std::string> middleInputs;
    for (const Value* v : middleGraph->inputs()) middleInputs.push_back(v->name);
    EXPECT_EQ(middleInputs, (std::vector<std::string>{"x", "outer_value"}));
    std::shared_ptr<Graph> innerGraph = middleGraph->findNode("inner")->attrs.getGraph("body");
    ASSERT_TRUE(innerGraph);
    std::vector<std::string> innerInputs;
    for (const Value* v : innerGraph->inputs()) innerInputs.push_back(v->name);
    EXPECT_EQ(innerInputs, (std::vector<std::string>{"outer_value", "m"}));
    EXPECT_EQ(innerGraph->outputs()[0]->shape, (SymShape{4}));
}

TEST(OnnxImport, ErrorsInsideSubgraphsSayWhere) {
    registerTestOps();
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {4});
    onnx::GraphProto* body = addWithBody(g, "x", "y", "outer");
    addNode(body, "Relu", {"nowhere"}, {"r"}, "inner_relu");
    addNode(body, "Frobnicate", {"r"}, {"f"});
    addOutput(body, "f");
    addOutput(g, "y");
    Import im;
    EXPECT_FALSE(im.parse(model));
    ASSERT_EQ(im.parser->getNbErrors(), 2) << im.errors();
    EXPECT_EQ(im.parser->getError(0)->describe(),
              "node 0 'inner_relu' (Relu): in subgraph 'body' of node 0 'outer' (kiln.test::WithBody): input 0 "
              "'nowhere' is not defined by any node, initializer or graph input");
    std::vector<std::string> logged = im.logger.at(ILogger::Severity::kERROR);
    ASSERT_FALSE(logged.empty());
    EXPECT_EQ(logged.back(),
              "1 node uses an operator Kiln does not support: node 1 'Frobnicate_1' (Frobnicate) in subgraph 'body' "
              "of node 0 'outer' (kiln.test::WithBody)");
}

TEST(OnnxImport, ANetworkIsFilledOnce) {
    Import im;
    ASSERT_TRUE(im.parse(convReluGemm(1))) << im.errors();
    EXPECT_FALSE(im.parse(convReluGemm(1)));
    EXPECT_NE(im.errors().find("already holds tensors"), std::string::npos) << im.errors();
    EXPECT_EQ(im.network->getNbLayers(), 4);
}

TEST(OnnxImport, VerboseLogShowsEachNodeWithShapes) {
    onnx::ModelProto model = makeModel(11);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "5", {1, 5, 1, 1});
    onnx::NodeProto* squeeze = addNode(g, "Squeeze", {"5"}, {"6"});
    setInts(squeeze, "axes", {-1});
    addOutput(g, "6");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    std::vector<std::string> verbose = im.logger.at(Severity::kVERBOSE);
    auto has = [&](const std::string& line) {
        return std::find(verbose.begin(), verbose.end(), line) != verbose.end();
    };
    EXPECT_TRUE(has("Parsing node 0 'Squeeze_0' [Squeeze]"));
    EXPECT_TRUE(has(" [Squeeze] inputs: [5 -> (1, 5, 1, 1)[float]], [Squeeze_0_axes -> (1)[int64]],"));
    EXPECT_TRUE(has(" Registering layer: Squeeze_0 [Squeeze]"));
    EXPECT_TRUE(has(" [Squeeze] outputs: [6 -> (1, 5, 1)[float]],"));
    std::vector<std::string> info = im.logger.at(Severity::kINFO);
    ASSERT_FALSE(info.empty());
    EXPECT_NE(info.back().find("1 ONNX nodes -> 1 IR nodes"), std::string::npos) << info.back();
    EXPECT_NE(info.back().find("inputs: [5 -> (1, 5, 1, 1)[float]]; outputs: [6 -> (1, 5, 1)[float]]"),
              std::string::npos)
        << info.back();
}

TEST(OnnxImport, QuietLoggerGetsNoVerboseLines) {
    StderrLogger quiet(Severity::kWARNING);
    std::unique_ptr<Builder> builder = createBuilder(quiet);
    std::unique_ptr<NetworkDefinition> network = builder->createNetwork();
    std::unique_ptr<Parser> parser = createParser(*network, quiet);
    const std::string bytes = convReluGemm(1).SerializeAsString();
    EXPECT_TRUE(parser->parse(bytes.data(), bytes.size(), nullptr));
    EXPECT_EQ(network->getNbLayers(), 4);
}

}  // namespace
}  // namespace kiln::test
