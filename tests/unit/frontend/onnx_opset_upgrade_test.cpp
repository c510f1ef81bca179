// Opset upgrades: an old-opset node imports into the same IR as its newest-opset spelling.

#include <gtest/gtest.h>

#include "frontend/onnx/opset_upgrade.h"
#include "ir/verifier.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

using onnx_import::NodeDraft;
using onnx_import::UpgradeContext;
using onnx_import::UpgradeHost;

/// A one-node model: input "x" of `dims`, the node, output "y". `configure` sets its attributes.
template <typename Configure>
onnx::ModelProto oneNode(int64_t opset, const std::string& op, const std::vector<D>& dims, Configure&& configure,
                         std::vector<std::string> extraInputs = {}) {
    onnx::ModelProto model = makeModel(opset);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", dims);
    std::vector<std::string> inputs{"x"};
    inputs.insert(inputs.end(), extraInputs.begin(), extraInputs.end());
    onnx::NodeProto* n = addNode(g, op, inputs, {"y"}, "n");
    configure(*g, n);
    addOutput(g, "y");
    return model;
}

/// The one IR node called "n" of an import that must succeed.
const Node& importedNode(Import& im, const onnx::ModelProto& model) {
    EXPECT_TRUE(im.parse(model)) << im.errors();
    const Node* n = im.graph().findNode("n");
    EXPECT_NE(n, nullptr);
    static const Node empty;
    return n ? *n : empty;
}

TEST(OnnxOpsetUpgrade, SqueezeAxesAttributeEqualsAxesInput) {
    Import old11, new13;
    const Node& a = importedNode(old11, oneNode(11, "Squeeze", {1, 5, 1, 1}, [](onnx::GraphProto&, onnx::NodeProto* n) {
                                     setInts(n, "axes", {0, -1});
                                 }));
    const Node& b = importedNode(new13, oneNode(13, "Squeeze", {1, 5, 1, 1},
                                                [](onnx::GraphProto& g, onnx::NodeProto*) {
                                                    addInitializer(&g, int64Tensor("axes", {2}, {0, -1}));
                                                },
                                                {"axes"}));
    ASSERT_EQ(a.inputs.size(), 2u);
    ASSERT_EQ(b.inputs.size(), 2u);
    EXPECT_FALSE(a.attrs.has("axes"));
    EXPECT_EQ(int64Values(a.inputs[1]), int64Values(b.inputs[1]));
    EXPECT_EQ(int64Values(a.inputs[1]), (std::vector<int64_t>{0, -1}));
    EXPECT_EQ(a.outputs[0]->shape, b.outputs[0]->shape);
    EXPECT_EQ(a.outputs[0]->shape, (SymShape{5, 1}));
    EXPECT_TRUE(verifyGraph(old11.graph())) << verifyGraph(old11.graph()).message();
}

TEST(OnnxOpsetUpgrade, SqueezeWithoutAxesKeepsNoAxesInput) {
    Import im;
    const Node& n = importedNode(im, oneNode(11, "Squeeze", {1, 5, 1}, [](onnx::GraphProto&, onnx::NodeProto*) {}));
    EXPECT_EQ(n.inputs.size(), 1u);
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{5}));
}

TEST(OnnxOpsetUpgrade, UnsqueezeAxesToInput) {
    Import im;
    const Node& n = importedNode(im, oneNode(11, "Unsqueeze", {3, 4}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                     setInts(node, "axes", {0, 3});
                                 }));
    ASSERT_EQ(n.inputs.size(), 2u);
    EXPECT_EQ(int64Values(n.inputs[1]), (std::vector<int64_t>{0, 3}));
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{1, 3, 4, 1}));
}

TEST(OnnxOpsetUpgrade, ReduceAxesToInputAtEachOpsChange) {
    // ReduceSum changed at opset 13, ReduceMean at 18: at opset 13 only ReduceMean still has the attribute.
    for (const std::string op : {"ReduceSum", "ReduceMean"}) {
        Import im;
        const Node& n = importedNode(
            im, oneNode(op == "ReduceSum" ? 11 : 13, op, {2, 3, 4}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                setInts(node, "axes", {1});
                setInt(node, "keepdims", 0);
            }));
        ASSERT_EQ(n.inputs.size(), 2u) << op;
        EXPECT_EQ(int64Values(n.inputs[1]), (std::vector<int64_t>{1})) << op;
        EXPECT_FALSE(n.attrs.has("axes")) << op;
        EXPECT_EQ(n.attrs.getInt("keepdims", 1), 0) << op;
        EXPECT_EQ(n.outputs[0]->shape, (SymShape{2, 4})) << op;
    }
}

TEST(OnnxOpsetUpgrade, SplitSizesToInputAndCountToAttribute) {
    onnx::ModelProto model = makeModel(11);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {6, 2});
    onnx::NodeProto* sized = addNode(g, "Split", {"x"}, {"a", "b"}, "sized");
    setInts(sized, "split", {2, 4});
    addNode(g, "Split", {"x"}, {"c", "d", "e"}, "equal");
    for (const char* out : {"a", "b", "c", "d", "e"}) addOutput(g, out);
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    const Node* s1 = im.graph().findNode("sized");
    ASSERT_TRUE(s1 && s1->inputs.size() == 2);
    EXPECT_EQ(int64Values(s1->inputs[1]), (std::vector<int64_t>{2, 4}));
    EXPECT_EQ(s1->outputs[1]->shape, (SymShape{4, 2}));
    const Node* s2 = im.graph().findNode("equal");
    ASSERT_NE(s2, nullptr);
    EXPECT_EQ(s2->attrs.getInt("num_outputs", 0), 3);
    EXPECT_EQ(s2->outputs[2]->shape, (SymShape{2, 2}));
}

TEST(OnnxOpsetUpgrade, SliceAttributesToInputs) {
    Import im;
    const Node& n = importedNode(im, oneNode(9, "Slice", {4, 6}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                     setInts(node, "starts", {1, 0});
                                     setInts(node, "ends", {3, 100});
                                     setInts(node, "axes", {0, 1});
                                 }));
    ASSERT_EQ(n.inputs.size(), 4u);
    EXPECT_EQ(int64Values(n.inputs[1]), (std::vector<int64_t>{1, 0}));
    EXPECT_EQ(int64Values(n.inputs[2]), (std::vector<int64_t>{3, 100}));
    EXPECT_EQ(int64Values(n.inputs[3]), (std::vector<int64_t>{0, 1}));
    EXPECT_TRUE(n.attrs.all().empty());
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{2, 6}));
}

TEST(OnnxOpsetUpgrade, ClipBoundsToInputsOfTheInputsType) {
    Import im;
    const Node& n = importedNode(
        im, oneNode(10, "Clip", {3}, [](onnx::GraphProto&, onnx::NodeProto* node) { setFloat(node, "max", 0.75f); }));
    ASSERT_EQ(n.inputs.size(), 3u);
    EXPECT_EQ(n.inputs[1], nullptr);
    ASSERT_TRUE(n.inputs[2] && n.inputs[2]->isConstant());
    EXPECT_EQ(n.inputs[2]->constant->dtype(), DataType::kFLOAT);
    EXPECT_EQ(n.inputs[2]->constant->rank(), 0);
    EXPECT_EQ(n.inputs[2]->constant->elementAsDouble(0), 0.75);
}

TEST(OnnxOpsetUpgrade, PadAttributesToInputs) {
    Import im;
    const Node& n = importedNode(im, oneNode(10, "Pad", {2, 3}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                     setInts(node, "pads", {0, 1, 2, 1});
                                     setFloat(node, "value", -2.5f);
                                 }));
    ASSERT_EQ(n.inputs.size(), 3u);
    EXPECT_EQ(int64Values(n.inputs[1]), (std::vector<int64_t>{0, 1, 2, 1}));
    EXPECT_EQ(n.inputs[2]->constant->elementAsDouble(0), -2.5);
    EXPECT_EQ(n.attrs.getString("mode", "constant"), "constant");
    EXPECT_EQ(n.outputs[0]->shape, (SymShape{4, 5}));
}

TEST(OnnxOpsetUpgrade, LegacySoftmaxOnTheLastAxisStaysOneNode) {
    Import im;
    const Node& n = importedNode(im, oneNode(11, "Softmax", {2, 3, 4}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                     setInt(node, "axis", 2);
                                 }));
    EXPECT_EQ(opTypes(im.graph()), std::vector<std::string>{"Softmax"});
    EXPECT_EQ(n.attrs.getInt("axis", 0), -1);
}

TEST(OnnxOpsetUpgrade, LegacySoftmaxFlattensAtItsAxis) {
    for (const std::string op : {"Softmax", "LogSoftmax"}) {
        Import im;
        // Default axis 1 on a rank-3 input: normalize over dims 1 and 2 together.
        ASSERT_TRUE(im.parse(oneNode(12, op, {2, 3, 4}, [](onnx::GraphProto&, onnx::NodeProto*) {}))) << im.errors();
        const Graph& g = im.graph();
        EXPECT_EQ(opTypes(g), (std::vector<std::string>{"Shape", "Flatten", op, "Reshape"}));
        const Node* flatten = findOp(g, "Flatten");
        EXPECT_EQ(flatten->attrs.getInt("axis", 0), 1);
        EXPECT_EQ(flatten->outputs[0]->shape, (SymShape{2, 12}));
        const Node* normalize = findOp(g, op);
        EXPECT_EQ(normalize->attrs.getInt("axis", 0), -1);
        const Node* reshape = findOp(g, "Reshape");
        EXPECT_EQ(reshape->name, "n");
        EXPECT_EQ(reshape->outputs[0]->name, "y");
        EXPECT_EQ(reshape->outputs[0]->shape, (SymShape{2, 3, 4}));
        for (const auto& node : g.nodes()) EXPECT_EQ(node->sourceNodes, std::vector<std::string>{"n"});
        EXPECT_TRUE(verifyGraph(g)) << verifyGraph(g).message();
    }
}

TEST(OnnxOpsetUpgrade, NewestSoftmaxIsUntouched) {
    Import im;
    const Node& n = importedNode(im, oneNode(13, "Softmax", {2, 3, 4}, [](onnx::GraphProto&, onnx::NodeProto* node) {
                                     setInt(node, "axis", 1);
                                 }));
    EXPECT_EQ(opTypes(im.graph()), std::vector<std::string>{"Softmax"});
    EXPECT_EQ(n.attrs.getInt("axis", 0), 1);
}

TEST(OnnxOpsetUpgrade, DropoutAndBatchNormLoseLegacyAttributes) {
    onnx::ModelProto model = makeModel(7);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {1, 2, 3, 3});
    for (const char* name : {"scale", "bias", "mean", "var"}) addInitializer(g, floatTensor(name, {2}, {0.5f, 1.5f}));
    onnx::NodeProto* bn = addNode(g, "BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"b"}, "bn");
    setInt(bn, "spatial", 1);
    setFloat(bn, "epsilon", 1e-3f);
    onnx::NodeProto* dropout = addNode(g, "Dropout", {"b"}, {"y"}, "drop");
    setFloat(dropout, "ratio", 0.3f);
    addOutput(g, "y");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    const Node* bnNode = im.graph().findNode("bn");
    EXPECT_FALSE(bnNode->attrs.has("spatial"));
    EXPECT_FLOAT_EQ(bnNode->attrs.getFloat("epsilon", 0.f), 1e-3f);
    EXPECT_FALSE(im.graph().findNode("drop")->attrs.has("ratio"));
    EXPECT_EQ(im.graph().outputs()[0]->shape, (SymShape{1, 2, 3, 3}));
}

TEST(OnnxOpsetUpgrade, BatchNormSpatialZeroIsRefused) {
    Import im;
    EXPECT_FALSE(im.parse(oneNode(7, "BatchNormalization", {1, 2, 3}, [](onnx::GraphProto& g, onnx::NodeProto* n) {
        for (const char* name : {"s", "b", "m", "v"}) {
            addInitializer(&g, floatTensor(name, {2, 3}, randomFloats(6, 9)));
            n->add_input(name);
        }
        setInt(n, "spatial", 0);
    })));
    EXPECT_NE(im.errors().find("spatial = 0"), std::string::npos) << im.errors();
}

// The upgrades of ops whose schema another part of Kiln provides are checked on the upgrade itself,
// through a host that records what the upgrade adds.
class RecordingHost : public UpgradeHost {
public:
    Value* addHelperConstant(const std::string& baseName, Tensor tensor) override {
        return graph.addConstant(baseName, std::move(tensor));
    }
    Value* addHelperNode(const std::string& opType, const std::string& nodeName, std::vector<Value*> inputs,
                         AttributeMap attrs) override {
        Node* n = graph.addNode(opType, nodeName, std::move(inputs), {nodeName + ":0"}, 1);
        n->attrs = std::move(attrs);
        return n->outputs[0];
    }
    const ValueInfo* knownInfo(const Value* value) const override {
        if (!value->typeKnown) return nullptr;
        info = ValueInfo{value->dtype, value->shape, true, value->constant};
        return &info;
    }
    Graph graph;
    mutable ValueInfo info;
};

/// Applies every upgrade of `draft.opType` at `opset`; returns the first failure.
Status upgrade(NodeDraft& draft, int64_t opset, RecordingHost& host) {
    UpgradeContext ctx(draft, "n", opset, host);
    for (const onnx_import::OpsetUpgrade* u : onnx_import::upgradesFor(draft.opType, opset))
        KILN_RETURN_IF_ERROR(u->apply(ctx));
    return Status::ok();
}

TEST(OnnxOpsetUpgradeUnit, UpsampleBecomesAsymmetricResize) {
    RecordingHost host;
    Value* x = host.graph.addInput("x", DataType::kFLOAT, {1, 1, 2, 2});
    NodeDraft draft{"Upsample", {x}, {}, {"y"}};
    draft.attrs.set("scales", std::vector<float>{1.f, 1.f, 2.f, 3.f});
    ASSERT_TRUE(upgrade(draft, 8, host));
    EXPECT_EQ(draft.opType, "Resize");
    ASSERT_EQ(draft.inputs.size(), 3u);
    EXPECT_EQ(draft.inputs[0], x);
    EXPECT_EQ(draft.inputs[1], nullptr);
    ASSERT_TRUE(draft.inputs[2] && draft.inputs[2]->isConstant());
    EXPECT_EQ(draft.inputs[2]->constant->toDoubleVector(), (std::vector<double>{1, 1, 2, 3}));
    EXPECT_EQ(draft.attrs.getString("coordinate_transformation_mode", ""), "asymmetric");
    EXPECT_EQ(draft.attrs.getString("nearest_mode", ""), "floor");
    EXPECT_EQ(draft.attrs.getString("mode", ""), "nearest");
    EXPECT_FALSE(draft.attrs.has("scales"));
}

TEST(OnnxOpsetUpgradeUnit, Resize10And11InputsBecomeTheNewestForm) {
    RecordingHost host;
    Value* x = host.graph.addInput("x", DataType::kFLOAT, {1, 1, 2, 2});
    Value* scales = host.graph.addConstant("scales", Tensor::allocate(DataType::kFLOAT, {4}));
    NodeDraft r10{"Resize", {x, scales}, {}, {"y"}};
    r10.attrs.set("mode", std::string("linear"));
    ASSERT_TRUE(upgrade(r10, 10, host));
    EXPECT_EQ(r10.inputs, (std::vector<Value*>{x, nullptr, scales}));
    EXPECT_EQ(r10.attrs.getString("coordinate_transformation_mode", ""), "asymmetric");
    EXPECT_FALSE(r10.attrs.has("nearest_mode"));

    // Opset 11: an empty roi and an empty scales tensor where sizes are given mean "not given".
    Value* emptyRoi = host.graph.addConstant("roi", Tensor::allocate(DataType::kFLOAT, {0}));
    Value* emptyScales = host.graph.addConstant("no_scales", Tensor::allocate(DataType::kFLOAT, {0}));
    Value* sizes = host.graph.addConstant("sizes", Tensor::fromInt64({1, 1, 4, 4}, {4}));
    NodeDraft r11{"Resize", {x, emptyRoi, emptyScales, sizes}, {}, {"y"}};
    ASSERT_TRUE(upgrade(r11, 11, host));
    EXPECT_EQ(r11.inputs, (std::vector<Value*>{x, nullptr, nullptr, sizes}));
}

TEST(OnnxOpsetUpgradeUnit, TopKCountToInput) {
    RecordingHost host;
    Value* x = host.graph.addInput("x", DataType::kFLOAT, {5});
    NodeDraft draft{"TopK", {x}, {}, {"values", "indices"}};
    draft.attrs.set("k", int64_t{3});
    ASSERT_TRUE(upgrade(draft, 9, host));
    ASSERT_EQ(draft.inputs.size(), 2u);
    EXPECT_EQ(int64Values(draft.inputs[1]), (std::vector<int64_t>{3}));
    EXPECT_EQ(draft.inputs[1]->constant->shape(), (Shape{1}));
    EXPECT_FALSE(draft.attrs.has("k"));
}

TEST(OnnxOpsetUpgradeUnit, RenamesAndChangedDefaults) {
    RecordingHost host;
    Value* x = host.graph.addInput("x", DataType::kFLOAT, {1, 1, 4, 4});
    NodeDraft grid{"GridSample", {x, x}, {}, {"y"}};
    grid.attrs.set("mode", std::string("bicubic"));
    ASSERT_TRUE(upgrade(grid, 16, host));
    EXPECT_EQ(grid.attrs.getString("mode", ""), "cubic");

    NodeDraft roi{"RoiAlign", {x, x, x}, {}, {"y"}};
    ASSERT_TRUE(upgrade(roi, 10, host));
    EXPECT_EQ(roi.attrs.getString("coordinate_transformation_mode", ""), "output_half_pixel");

    NodeDraft scatter{"Scatter", {x, x, x}, {}, {"y"}};
    scatter.attrs.set("axis", int64_t{1});
    ASSERT_TRUE(upgrade(scatter, 9, host));
    EXPECT_EQ(scatter.opType, "ScatterElements");
    EXPECT_EQ(scatter.attrs.getInt("axis", 0), 1);

    NodeDraft dft{"DFT", {x}, {}, {"y"}};
    ASSERT_TRUE(upgrade(dft, 17, host));
    ASSERT_EQ(dft.inputs.size(), 3u);
    EXPECT_EQ(dft.inputs[1], nullptr);
    EXPECT_EQ(int64Values(dft.inputs[2]), (std::vector<int64_t>{1}));
}

TEST(OnnxOpsetUpgradeUnit, ImageScalerBecomesMulAdd) {
    RecordingHost host;
    Value* x = host.graph.addInput("x", DataType::kFLOAT, {1, 3, 2, 2});
    NodeDraft draft{"ImageScaler", {x}, {}, {"y"}};
    draft.attrs.set("scale", 0.5f);
    draft.attrs.set("bias", std::vector<float>{1.f, -2.f, 3.f});
    ASSERT_TRUE(upgrade(draft, 8, host));
    EXPECT_EQ(draft.opType, "Add");
    ASSERT_EQ(draft.inputs.size(), 2u);
    const Node* mul = draft.inputs[0]->producer;
    ASSERT_TRUE(mul && mul->opType == "Mul");
    EXPECT_EQ(mul->inputs[0], x);
    EXPECT_EQ(mul->inputs[1]->constant->elementAsDouble(0), 0.5);
    EXPECT_EQ(draft.inputs[1]->constant->shape(), (Shape{1, 3, 1, 1}));
    EXPECT_EQ(draft.inputs[1]->constant->toDoubleVector(), (std::vector<double>{1, -2, 3}));
}

TEST(OnnxOpsetUpgradeUnit, UpgradesApplyOnlyBelowTheChangingOpset) {
    EXPECT_EQ(onnx_import::upgradesFor("Squeeze", 12).size(), 1u);
    EXPECT_TRUE(onnx_import::upgradesFor("Squeeze", 13).empty());
    EXPECT_EQ(onnx_import::upgradesFor("ReduceMean", 17).size(), 1u);
    EXPECT_TRUE(onnx_import::upgradesFor("ReduceSum", 13).empty());
    EXPECT_EQ(onnx_import::upgradesFor("Split", 11).size(), 2u);
    EXPECT_EQ(onnx_import::upgradesFor("Split", 13).size(), 1u);
    EXPECT_TRUE(onnx_import::upgradesFor("Conv", 7).empty());
}

}  // namespace
}  // namespace kiln::test
