// Subgraphs: the graph attributes of If (then_branch, else_branch), Loop (body) and Scan (body).
//
// Convention (ir/control_flow.h). A subgraph becomes its own kiln::Graph, held by the node's
// attribute as a std::shared_ptr<Graph>, imported by the same importer (opset upgrades and shape
// inference included; formal inputs without a declared type stay untyped, and the nodes that read
// them are left uninferred for the enclosing op to type). Its inputs() are:
//   1. the subgraph's formal inputs, in ONNX order (their count is fixed by the op: 0 for If,
//      2 + N loop-carried values for Loop, N state + M scan values for Scan), then
//   2. one input per value of the enclosing graph that the node's subgraphs read (a "capture").
// The node lists the captured outer values as its trailing inputs, and attribute
// kCapturedInputsAttr counts them. All subgraphs of one node (If's two branches) list the same
// captures in the same order, so a capture binds by position: subgraph input (formal + i) is node
// input (formal + i). Because the dependency is an ordinary input, passes (ordering, liveness,
// dead-node elimination, renaming) need no knowledge of subgraphs. A nested subgraph's capture
// from two levels up is first captured by its parent, so each graph only reads its direct parent.
// Outer constants are not captured: they are copied in as constants of the subgraph (sharing
// storage), so weights need no binding.

#include "frontend/onnx/graph_importer.h"

namespace kiln::onnx_import {

Value* GraphImporter::captureOuter(Value* outer) {
    // A subgraph name that shadows the outer one (a sibling's capture this subgraph defines
    // itself) leaves the capture unnamed here: it binds by position, and nothing here reads it.
    const bool nameFree = !mValues.count(outer->name);
    Value* captured =
        mGraph.addInput(nameFree ? outer->name : freshName(outer->name + "_captured"), outer->dtype, outer->shape);
    captured->typeKnown = outer->typeKnown;
    captured->container = outer->container;
    mCapturedOuter.push_back(outer);
    if (nameFree) mValues[outer->name] = captured;
    recordInfo(*captured);
    // What the parent knows, a folded shape value included, holds inside too.
    if (const ValueInfo* info = mParent->knownInfo(outer)) mInfos[static_cast<size_t>(captured->id)] = *info;
    return captured;
}

Value* GraphImporter::resolve(const std::string& name) {
    if (auto it = mValues.find(name); it != mValues.end()) return it->second;
    if (!mParent) return nullptr;
    Value* outer = mParent->resolve(name);
    if (!outer) return nullptr;
    if (outer->isConstant()) {
        Value* copied = mGraph.addConstant(name, *outer->constant);
        define(copied);
        return copied;
    }
    return captureOuter(outer);
}

std::shared_ptr<Graph> GraphImporter::importSubgraph(onnx::GraphProto& proto, const std::string& attrName,
                                                     const NodeRef& owner) {
    auto graph = std::make_shared<Graph>();
    std::string scope = "subgraph '" + attrName + "' of " + describeNode(owner);
    if (!mScope.empty()) scope += " in " + mScope;
    GraphImporter child(mSession, *graph, this, std::move(scope));
    child.mPredeclaredCaptures = mNodeCaptures;
    child.importGraph(proto);
    // Captures new to this node: the node reads them, and the sibling subgraphs imported before
    // this one list them too, so that every subgraph of the node binds the same inputs.
    for (size_t i = mNodeCaptures.size(); i < child.mCapturedOuter.size(); ++i) {
        Value* outer = child.mCapturedOuter[i];
        mNodeCaptures.push_back(outer);
        for (const std::shared_ptr<Graph>& sibling : mNodeSubgraphs) {
            Value* input = sibling->addInput(sibling->uniqueValueName(outer->name), outer->dtype, outer->shape);
            input->typeKnown = outer->typeKnown;
            input->container = outer->container;
        }
    }
    mNodeSubgraphs.push_back(graph);
    return graph;
}

}  // namespace kiln::onnx_import
