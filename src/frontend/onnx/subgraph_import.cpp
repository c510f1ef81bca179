// Subgraphs: the graph attributes of If (then_branch, else_branch), Loop (body) and Scan (body).
//
// Convention. A subgraph becomes its own kiln::Graph, held by the node's attribute as a
// std::shared_ptr<Graph>, imported by the same importer (opset upgrades and shape inference
// included; formal inputs without a declared type stay untyped, and the nodes that read them are
// left uninferred for the enclosing op to type). Its inputs() are:
//   1. the subgraph's formal inputs, in ONNX order (their count is fixed by the op: 0 for If,
//      2 + N loop-carried values for Loop, N state + M scan values for Scan), then
//   2. one input per value of an enclosing graph that the subgraph reads (a "capture"), in order
//      of first use, with the outer value's name, dtype and shape. Whoever runs the subgraph binds
//      a capture by name to the value of that name in the enclosing graph; a capture of a nested
//      subgraph is first captured by its parent, so each graph only ever reads its direct parent.
// Outer constants are not captured as inputs: they are copied in as constants of the subgraph
// (sharing storage), so weights need no binding. The outer If/Loop/Scan node does not list the
// captures among its inputs (its schema fixes its input count); passes that need the dependency
// (ordering, liveness, dead-node elimination) find it in the trailing inputs of its subgraphs.

#include "frontend/onnx/graph_importer.h"

namespace kiln::onnx_import {

Value* GraphImporter::resolve(const std::string& name) {
    if (auto it = mValues.find(name); it != mValues.end()) return it->second;
    if (!mParent) return nullptr;
    Value* outer = mParent->resolve(name);
    if (!outer) return nullptr;
    Value* captured = nullptr;
    if (outer->isConstant()) {
        captured = mGraph.addConstant(name, *outer->constant);
    } else {
        captured = mGraph.addInput(name, outer->dtype, outer->shape);
        captured->typeKnown = outer->typeKnown;
    }
    define(captured);
    // What the parent knows, a folded shape value included, holds inside too.
    if (const ValueInfo* info = mParent->knownInfo(outer)) mInfos[static_cast<size_t>(captured->id)] = *info;
    return captured;
}

std::shared_ptr<Graph> GraphImporter::importSubgraph(onnx::GraphProto& proto, const std::string& attrName,
                                                     const NodeRef& owner) {
    auto graph = std::make_shared<Graph>();
    std::string scope = "subgraph '" + attrName + "' of " + describeNode(owner);
    if (!mScope.empty()) scope += " in " + mScope;
    GraphImporter child(mSession, *graph, this, std::move(scope));
    child.importGraph(proto);
    return graph;
}

}  // namespace kiln::onnx_import
