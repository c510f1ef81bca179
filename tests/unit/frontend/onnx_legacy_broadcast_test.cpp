// Opset-6 models: the legacy `broadcast` / `axis` attributes and PRelu's per-channel slope import
// into numpy-broadcasting IR that lines B up where the legacy rule put it.

#include <gtest/gtest.h>

#include "ir/verifier.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

/// An opset-6 model: y = op(x, b) with `configure` setting the node's attributes.
template <typename Configure>
onnx::ModelProto binaryOpset6(const std::string& op, const std::vector<D>& xDims, const std::vector<D>& bDims,
                              Configure&& configure) {
    onnx::ModelProto model = makeModel(6);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", xDims);
    addInput(g, "b", bDims);
    configure(addNode(g, op, {"x", "b"}, {"y"}, "n"));
    addOutput(g, "y");
    return model;
}

TEST(OnnxLegacyBroadcast, AxisLinesBUpWithTheMiddleDimensionsOfA) {
    Import im;
    ASSERT_TRUE(im.parse(binaryOpset6("Add", {2, 3, 4, 5}, {3, 4}, [](onnx::NodeProto* n) {
        setInt(n, "broadcast", 1);
        setInt(n, "axis", 1);
    }))) << im.errors();
    const Graph& g = im.graph();
    EXPECT_EQ(opTypes(g), (std::vector<std::string>{"Unsqueeze", "Add"}));
    const Node* add = findOp(g, "Add");
    EXPECT_FALSE(add->attrs.has("broadcast"));
    EXPECT_FALSE(add->attrs.has("axis"));
    // B of (3, 4) at axis 1 of a rank-4 A becomes (3, 4, 1): numpy then aligns it with dims 1 and 2.
    EXPECT_EQ(add->inputs[1]->shape, (SymShape{3, 4, 1}));
    EXPECT_EQ(add->outputs[0]->shape, (SymShape{2, 3, 4, 5}));
    EXPECT_TRUE(verifyGraph(g)) << verifyGraph(g).message();
}

TEST(OnnxLegacyBroadcast, TrailingAlignmentNeedsNoRewrite) {
    Import im;
    ASSERT_TRUE(im.parse(binaryOpset6("Mul", {2, 3, 4}, {4}, [](onnx::NodeProto* n) { setInt(n, "broadcast", 1); })))
        << im.errors();
    EXPECT_EQ(opTypes(im.graph()), std::vector<std::string>{"Mul"});
    EXPECT_FALSE(findOp(im.graph(), "Mul")->attrs.has("broadcast"));
}

TEST(OnnxLegacyBroadcast, AxisThatDoesNotFitIsAnErrorNamingTheNode) {
    Import im;
    EXPECT_FALSE(im.parse(binaryOpset6("Sub", {2, 3}, {3, 4}, [](onnx::NodeProto* n) {
        setInt(n, "broadcast", 1);
        setInt(n, "axis", 1);
    })));
    EXPECT_NE(im.errors().find("(Sub)"), std::string::npos) << im.errors();
    EXPECT_NE(im.errors().find("does not fit"), std::string::npos) << im.errors();
}

TEST(OnnxLegacyBroadcast, PReluSlopeAppliesPerChannel) {
    Import im;
    ASSERT_TRUE(im.parse(binaryOpset6("PRelu", {2, 3, 4, 5}, {3}, [](onnx::NodeProto*) {}))) << im.errors();
    const Node* prelu = findOp(im.graph(), "PRelu");
    ASSERT_NE(prelu, nullptr);
    EXPECT_EQ(prelu->inputs[1]->shape, (SymShape{3, 1, 1}));
    EXPECT_EQ(prelu->outputs[0]->shape, (SymShape{2, 3, 4, 5}));
}

}  // namespace
}  // namespace kiln::test
