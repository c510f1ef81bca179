// Models of opsets 1 to 5: each op that changed before opset 6 imports into the IR its opset-6
// spelling gives, or is refused with the reason; ops that did not change import as they are.

#include <gtest/gtest.h>

#include "ir/onnx_types.h"
#include "ir/verifier.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

/// A model of `opset`: y = op(x, extra inputs) with `configure` setting attributes / initializers.
template <typename Configure>
onnx::ModelProto early(int64_t opset, const std::string& op, const std::vector<D>& dims, Configure&& configure,
                       std::vector<std::string> extraInputs = {}, int64_t outputs = 1) {
    onnx::ModelProto model = makeModel(opset, 3);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", dims);
    std::vector<std::string> inputs{"x"};
    inputs.insert(inputs.end(), extraInputs.begin(), extraInputs.end());
    std::vector<std::string> names;
    for (int64_t i = 0; i < outputs; ++i) names.push_back(i == 0 ? "y" : "y" + std::to_string(i));
    onnx::NodeProto* n = addNode(g, op, inputs, names, "n");
    configure(*g, n);
    for (const std::string& name : names) addOutput(g, name);
    return model;
}

const Node& imported(Import& im, const onnx::ModelProto& model) {
    EXPECT_TRUE(im.parse(model)) << im.errors();
    EXPECT_TRUE(verifyGraph(im.graph())) << verifyGraph(im.graph()).message();
    const Node* n = im.graph().findNode("n");
    EXPECT_NE(n, nullptr);
    static const Node empty;
    return n ? *n : empty;
}

void expectRefused(const onnx::ModelProto& model, const std::string& why) {
    Import im;
    EXPECT_FALSE(im.parse(model));
    EXPECT_NE(im.errors().find(why), std::string::npos) << im.errors();
    EXPECT_NE(im.errors().find("'n'"), std::string::npos) << "the error names the node: " << im.errors();
}

TEST(OnnxEarlyOpset, UnchangedOpsImportAsTheyAre) {
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool", "Softplus", "Softsign"}) {
        Import im;
        const Node& n = imported(im, early(1, op, {1, 3, 5, 5}, [](onnx::GraphProto&, onnx::NodeProto*) {}));
        EXPECT_EQ(n.opType, op);
        EXPECT_TRUE(n.attrs.all().empty()) << op;
    }
}

TEST(OnnxEarlyOpset, ConsumedInputsIsDropped) {
    for (const char* op : {"Relu", "Sigmoid", "Neg", "Abs"}) {
        Import im;
        const Node& n = imported(im, early(1, op, {2, 3}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                     setInts(node, "consumed_inputs", {0});
                                 }));
        EXPECT_FALSE(n.attrs.has("consumed_inputs")) << op;
        EXPECT_EQ(n.outputs[0]->shape, (SymShape{2, 3})) << op;
    }
}

TEST(OnnxEarlyOpset, LegacyBroadcastAddOfOpset1KeepsItsAxisRule) {
    onnx::ModelProto model = makeModel(1, 3);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "a", {2, 3, 4, 5});
    addInput(g, "b", {3, 4});
    onnx::NodeProto* n = addNode(g, "Add", {"a", "b"}, {"y"}, "n");
    setInts(n, "consumed_inputs", {0, 0});
    setInt(n, "broadcast", 1);
    setInt(n, "axis", 1);
    addOutput(g, "y");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    const Node* add = findOp(im.graph(), "Add");
    ASSERT_NE(add, nullptr);
    EXPECT_TRUE(add->attrs.all().empty());
    EXPECT_EQ(add->inputs[1]->shape, (SymShape{3, 4, 1}));
    EXPECT_EQ(add->outputs[0]->shape, (SymShape{2, 3, 4, 5}));
}

TEST(OnnxEarlyOpset, CastTypeNamesBecomeNumbers) {
    for (const auto& [name, type] : std::vector<std::pair<std::string, DataType>>{
             {"FLOAT16", DataType::kHALF}, {"int32", DataType::kINT32}, {"DOUBLE", DataType::kDOUBLE}}) {
        Import im;
        const Node& n = imported(
            im, early(1, "Cast", {4}, [&](onnx::GraphProto&, onnx::NodeProto* node) { setString(node, "to", name); }));
        EXPECT_EQ(n.attrs.getInt("to", -1), static_cast<int64_t>(dataTypeToOnnx(type))) << name;
        EXPECT_EQ(n.outputs[0]->dtype, type) << name;
    }
    expectRefused(
        early(1, "Cast", {4}, [](onnx::GraphProto&, onnx::NodeProto* node) { setString(node, "to", "REAL"); }),
        "'REAL' names no ONNX element type");
}

TEST(OnnxEarlyOpset, TileAlongOneAxisBecomesRepeats) {
    Import im;
    const Node& n = imported(im, early(1, "Tile", {2, 3, 4},
                                       [](onnx::GraphProto& g, onnx::NodeProto*) {
                                           addInitializer(&g, int64Tensor("tiles", {}, {3}));
                                           addInitializer(&g, int64Tensor("axis", {}, {-2}));
                                       },
                                       {"tiles", "axis"}));
    ASSERT_EQ(n.inputs.size(), 2u);
    EXPECT_EQ(int64Values(n.inputs[1]), (std::vector<int64_t>{1, 3, 1}));
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{2, 9, 4}));

    onnx::ModelProto runtimeTiles = makeModel(1, 3);
    onnx::GraphProto* g = runtimeTiles.mutable_graph();
    addInput(g, "x", {2, 3});
    addInput(g, "tiles", {}, onnx::TensorProto::INT64);
    addInitializer(g, int64Tensor("axis", {}, {0}));
    addNode(g, "Tile", {"x", "tiles", "axis"}, {"y"}, "n");
    addOutput(g, "y");
    expectRefused(runtimeTiles, "known at import time");
}

TEST(OnnxEarlyOpset, ReshapeShapeAttributeBecomesInput) {
    Import im;
    const Node& n = imported(im, early(4, "Reshape", {2, 3, 4}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                 setInts(node, "shape", {0, -1});
                                 setInts(node, "consumed_inputs", {1});
                             }));
    ASSERT_EQ(n.inputs.size(), 2u);
    EXPECT_EQ(int64Values(n.inputs[1]), (std::vector<int64_t>{0, -1}));
    EXPECT_TRUE(n.attrs.all().empty());
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{2, 12}));
    expectRefused(early(4, "Reshape", {2, 3}, [](onnx::GraphProto&, onnx::NodeProto*) {}), "'shape' attribute");
}

TEST(OnnxEarlyOpset, ConcatAxisDefaultsToOneBeforeOpset4) {
    onnx::ModelProto model = makeModel(3, 3);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "a", {2, 3, 4});
    addInput(g, "b", {2, 5, 4});
    addNode(g, "Concat", {"a", "b"}, {"y"}, "n");
    addOutput(g, "y");
    Import im;
    const Node& n = imported(im, model);
    EXPECT_EQ(n.attrs.getInt("axis", -1), 1);
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{2, 8, 4}));
}

TEST(OnnxEarlyOpset, PadPaddingsArePads) {
    Import im;
    const Node& n = imported(im, early(1, "Pad", {2, 3}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                 setInts(node, "paddings", {0, 1, 2, 3});
                                 setFloat(node, "value", 1.5f);
                             }));
    ASSERT_GE(n.inputs.size(), 3u);
    EXPECT_EQ(int64Values(n.inputs[1]), (std::vector<int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(n.inputs[2]->constant->elementAsDouble(0), 1.5);
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{4, 7}));
}

TEST(OnnxEarlyOpset, SplitOfOpset1TakesItsLengthsInputAsInt64AndNeedsAnAxis) {
    Import im;
    const Node& n = imported(im, early(
                                     1, "Split", {6, 2},
                                     [](onnx::GraphProto& g, onnx::NodeProto* node) {
                                         setInt(node, "axis", 0);
                                         addInitializer(&g, floatTensor("lengths", {2}, {2, 4}));
                                     },
                                     {"lengths"}, 2));
    ASSERT_EQ(n.inputs.size(), 2u);
    ASSERT_NE(n.inputs[1]->producer, nullptr);
    EXPECT_EQ(n.inputs[1]->producer->opType, "Cast");
    EXPECT_EQ(n.inputs[1]->dtype, DataType::kINT64);
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{2, 2}));
    EXPECT_EQ(n.outputs[1]->shape, (SymShape{4, 2}));

    // With the sizes in the attribute (the form opset 2 kept) the Split-13 upgrade applies as usual.
    Import attr;
    const Node& a = imported(attr, early(
                                       1, "Split", {6, 2},
                                       [](onnx::GraphProto&, onnx::NodeProto* node) {
                                           setInt(node, "axis", 0);
                                           setInts(node, "split", {5, 1});
                                       },
                                       {}, 2));
    EXPECT_EQ(int64Values(a.inputs[1]), (std::vector<int64_t>{5, 1}));
    expectRefused(early(
                      1, "Split", {6, 2}, [](onnx::GraphProto&, onnx::NodeProto*) {}, {}, 2),
                  "no default axis");
}

TEST(OnnxEarlyOpset, LpPoolFloatPBecomesInt) {
    Import im;
    const Node& n = imported(im, early(1, "GlobalLpPool", {1, 2, 3, 3},
                                       [](onnx::GraphProto&, onnx::NodeProto* node) { setFloat(node, "p", 3.0f); }));
    EXPECT_EQ(n.attrs.getInt("p"), std::optional<int64_t>(3));
    expectRefused(early(1, "GlobalLpPool", {1, 2, 3, 3},
                        [](onnx::GraphProto&, onnx::NodeProto* node) { setFloat(node, "p", 2.5f); }),
                  "not a positive integer");
    expectRefused(early(1, "LpPool", {1, 2, 3, 3}, [](onnx::GraphProto&, onnx::NodeProto*) {}), "kernel_shape");
}

TEST(OnnxEarlyOpset, ExperimentalUpsampleScalesHeightAndWidth) {
    Import im;
    const Node& n = imported(im, early(1, "Upsample", {1, 2, 3, 4}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                 setFloat(node, "height_scale", 2.0f);
                                 setFloat(node, "width_scale", 3.0f);
                                 setString(node, "mode", "bilinear");
                             }));
    EXPECT_EQ(n.opType, "Resize");
    EXPECT_EQ(n.attrs.getString("mode", ""), "linear");
    ASSERT_GE(n.inputs.size(), 3u);
    ASSERT_TRUE(n.inputs[2] && n.inputs[2]->isConstant());
    const Tensor& scales = *n.inputs[2]->constant;
    ASSERT_EQ(scales.elementCount(), 4);
    EXPECT_EQ(scales.elementAsDouble(2), 2.0);
    EXPECT_EQ(scales.elementAsDouble(3), 3.0);
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{1, 2, 6, 12}));
}

}  // namespace
}  // namespace kiln::test
