// An If whose condition is known at import imports as its taken branch: the other branch, which
// can never run, cannot fail the import; captured values, the branch's constants and outputs that
// are outer values keep their meaning; an If whose condition is known only at run time stays an If.

#include <gtest/gtest.h>

#include <functional>

#include "ir/verifier.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

onnx::GraphProto* addGraphAttr(onnx::NodeProto* node, const std::string& name) {
    auto* attr = node->add_attribute();
    attr->set_name(name);
    attr->set_type(onnx::AttributeProto::GRAPH);
    attr->mutable_g()->set_name(name);
    return attr->mutable_g();
}

/// y = If(cond) then Relu(x) + w else Split(x, 4 parts of a 5-extent axis) and an unknown op.
onnx::ModelProto modelWithCondition(const std::function<void(onnx::GraphProto*)>& makeCondition) {
    onnx::ModelProto model = makeModel(18);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {5});
    addInitializer(g, floatTensor("w", {5}, randomFloats(5, 1)));
    makeCondition(g);
    onnx::NodeProto* ifNode = addNode(g, "If", {"cond"}, {"y"}, "choose");
    onnx::GraphProto* thenBranch = addGraphAttr(ifNode, "then_branch");
    addNode(thenBranch, "Relu", {"x"}, {"r"}, "relu");
    addNode(thenBranch, "Add", {"r", "w"}, {"then_out"}, "add");
    addOutput(thenBranch, "then_out");
    onnx::GraphProto* elseBranch = addGraphAttr(ifNode, "else_branch");
    onnx::NodeProto* split = addNode(elseBranch, "Split", {"x"}, {"a", "b", "c", "d"}, "split");
    setInt(split, "num_outputs", 4);
    addNode(elseBranch, "NoSuchOp", {"a"}, {"else_out"}, "unknown");
    addOutput(elseBranch, "else_out");
    addNode(g, "Neg", {"y"}, {"z"}, "after");
    addOutput(g, "z");
    return model;
}

TEST(OnnxIfInlining, ConstantConditionImportsTheTakenBranchOnly) {
    Import im;
    ASSERT_TRUE(im.parse(modelWithCondition([](onnx::GraphProto* g) {
        addInitializer(g, rawTensor("cond", onnx::TensorProto::BOOL, {}, "\1", 1));
    }))) << im.errors();
    const Graph& graph = im.graph();
    EXPECT_EQ(opTypes(graph), (std::vector<std::string>{"Relu", "Add", "Identity", "Neg"}));
    const Node* relu = findOp(graph, "Relu");
    EXPECT_EQ(relu->name, "choose/relu");
    EXPECT_EQ(relu->inputs[0], graph.findValue("x"));  // the captured outer value itself
    const Node* add = findOp(graph, "Add");
    ASSERT_TRUE(add->inputs[1]->isConstant());
    // The If's output keeps its name, type and shape, and the node after it reads it.
    const Value* y = graph.findValue("y");
    ASSERT_NE(y, nullptr);
    EXPECT_EQ(y->producer->opType, "Identity");
    EXPECT_EQ(y->producer->name, "choose");
    EXPECT_EQ(y->shape, (SymShape{5}));
    EXPECT_EQ(findOp(graph, "Neg")->inputs[0], y);
    for (const auto& node : graph.nodes())
        if (node->opType != "Neg") EXPECT_EQ(node->sourceNodes, std::vector<std::string>{"choose"});
    EXPECT_TRUE(verifyGraph(graph)) << verifyGraph(graph).message();
}

TEST(OnnxIfInlining, ConditionFoldedFromStaticShapes) {
    // cond = Size(x) == 4: false for x of 5 elements, so else_branch, whose Split cannot work on 5
    // elements, is the one taken here; its errors are the import's.
    Import takesElse;
    EXPECT_FALSE(takesElse.parse(modelWithCondition([](onnx::GraphProto* g) {
        addInitializer(g, int64Tensor("four", {}, {4}));
        addNode(g, "Size", {"x"}, {"n"});
        addNode(g, "Equal", {"n", "four"}, {"cond"});
    })));
    EXPECT_NE(takesElse.errors().find("subgraph 'else_branch' of node"), std::string::npos) << takesElse.errors();
    // cond = Size(x) == 5: then_branch; the impossible else_branch is never imported.
    Import takesThen;
    EXPECT_TRUE(takesThen.parse(modelWithCondition([](onnx::GraphProto* g) {
        addInitializer(g, int64Tensor("five", {}, {5}));
        addNode(g, "Size", {"x"}, {"n"});
        addNode(g, "Equal", {"n", "five"}, {"cond"});
    }))) << takesThen.errors();
    EXPECT_EQ(findOp(takesThen.graph(), "If"), nullptr);
    EXPECT_NE(findOp(takesThen.graph(), "Relu"), nullptr);
}

TEST(OnnxIfInlining, RunTimeConditionKeepsTheIf) {
    onnx::ModelProto model =
        modelWithCondition([](onnx::GraphProto* g) { addInput(g, "cond", {}, onnx::TensorProto::BOOL); });
    // Both branches are imported now: replace the impossible one by a valid one.
    onnx::NodeProto* ifNode = model.mutable_graph()->mutable_node(0);
    onnx::GraphProto* elseBranch = ifNode->mutable_attribute(1)->mutable_g();
    elseBranch->clear_node();
    elseBranch->clear_output();
    addNode(elseBranch, "Sigmoid", {"x"}, {"else_out"});
    addOutput(elseBranch, "else_out");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    EXPECT_EQ(opTypes(im.graph()), (std::vector<std::string>{"If", "Neg"}));
}

TEST(OnnxIfInlining, BranchOutputsThatAreOuterValuesOrConstants) {
    onnx::ModelProto model = makeModel(18);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {3});
    addInitializer(g, rawTensor("cond", onnx::TensorProto::BOOL, {}, "\0", 1));
    onnx::NodeProto* ifNode = addNode(g, "If", {"cond"}, {"p", "q", ""}, "pick");
    onnx::GraphProto* thenBranch = addGraphAttr(ifNode, "then_branch");
    addNode(thenBranch, "Neg", {"x"}, {"n1"});
    addOutput(thenBranch, "n1");
    addOutput(thenBranch, "n1");
    addOutput(thenBranch, "n1");
    onnx::GraphProto* elseBranch = addGraphAttr(ifNode, "else_branch");
    addInitializer(elseBranch, floatTensor("k", {2}, {1.5f, -2.0f}));
    addOutput(elseBranch, "x");  // an outer value, passed through
    addOutput(elseBranch, "k");  // a constant of the branch
    addOutput(elseBranch, "k");  // an output the node omits
    addOutput(g, "p");
    addOutput(g, "q");
    Import im;
    ASSERT_TRUE(im.parse(model)) << im.errors();
    const Graph& graph = im.graph();
    EXPECT_EQ(opTypes(graph), (std::vector<std::string>{"Identity", "Identity"}));
    const Value* p = graph.findValue("p");
    const Value* q = graph.findValue("q");
    ASSERT_TRUE(p && q);
    EXPECT_EQ(p->producer->inputs[0], graph.findValue("x"));
    ASSERT_TRUE(q->producer->inputs[0]->isConstant());
    EXPECT_EQ(q->producer->inputs[0]->constant->elementAsDouble(1), -2.0);
    EXPECT_EQ(q->shape, (SymShape{2}));
    EXPECT_TRUE(verifyGraph(graph)) << verifyGraph(graph).message();
}

TEST(OnnxIfInlining, ATakenBranchWithTheWrongOutputCountIsAnError) {
    onnx::ModelProto model = makeModel(18);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {3});
    addInitializer(g, rawTensor("cond", onnx::TensorProto::BOOL, {}, "\1", 1));
    onnx::NodeProto* ifNode = addNode(g, "If", {"cond"}, {"p", "q"}, "pick");
    onnx::GraphProto* thenBranch = addGraphAttr(ifNode, "then_branch");
    addOutput(thenBranch, "x");
    onnx::GraphProto* elseBranch = addGraphAttr(ifNode, "else_branch");
    addOutput(elseBranch, "x");
    addOutput(elseBranch, "x");
    addOutput(g, "p");
    Import im;
    EXPECT_FALSE(im.parse(model));
    EXPECT_NE(
        im.errors().find("'pick' (If): its then_branch (taken: the condition is known) has 1 outputs; the node has 2"),
        std::string::npos)
        << im.errors();
}

}  // namespace
}  // namespace kiln::test
