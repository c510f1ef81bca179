// An If whose condition is known when the model is imported (a constant, or a value inference
// folds, such as a comparison of static shapes) always runs the same branch: the importer imports
// that branch in place of the node, as onnx-tensorrt does for a constant condition. The other
// branch can never run, so it is not imported at all: its operators, and shapes it could only
// have for inputs it never sees, cannot fail the import. ONNX's function expansions rely on this
// (AffineGrid's expansion has a 2-D branch that cannot split a 5-element size into 4 parts).
//
// The branch is imported as a subgraph first (its captures, nested subgraphs and upgrades as
// usual), then its nodes are copied into this graph: captures become the outer values they stand
// for, its constants become constants here, and each If output is an Identity of the branch's
// result, so the If's output names keep their meaning.

#include "frontend/onnx/graph_importer.h"

namespace kiln::onnx_import {

bool GraphImporter::importIfWithKnownCondition(const NodeRef& where, onnx::NodeProto& proto,
                                               const std::vector<Value*>& inputs,
                                               const std::vector<std::string>& outputNames) {
    if (!where.domain.empty() || where.opType != "If" || inputs.size() != 1 || !inputs[0]) return false;
    const ValueInfo* cond = knownInfo(inputs[0]);
    if (!cond || !cond->value || cond->dtype != DataType::kBOOL || cond->value->elementCount() != 1) return false;
    const std::string taken = cond->value->elementAsDouble(0) != 0.0 ? "then_branch" : "else_branch";
    onnx::GraphProto* branch = nullptr;
    int branches = 0;
    for (onnx::AttributeProto& attr : *proto.mutable_attribute()) {
        if ((attr.name() == "then_branch" || attr.name() == "else_branch") && attr.has_g()) ++branches;
        if (attr.name() == taken && attr.has_g()) branch = attr.mutable_g();
    }
    // A node without both branches is malformed whatever its condition: the regular import says so.
    if (!branch || branches != 2) return false;

    const size_t errorsBefore = mSession.errors.size();
    mNodeCaptures.clear();
    mNodeSubgraphs.clear();
    std::shared_ptr<Graph> body = importSubgraph(*branch, taken, where);
    if (mSession.errors.size() == errorsBefore && body->outputs().size() != outputNames.size())
        nodeError(where, "its " + taken + " (taken: the condition is known) has " +
                             std::to_string(body->outputs().size()) + " outputs; the node has " +
                             std::to_string(outputNames.size()));
    if (mSession.errors.size() > errorsBefore) {
        definePlaceholders(outputNames);
        return true;
    }
    if (mSession.verbose) mSession.log.verbose(" If condition known at import: inlining " + taken);
    inlineBranch(where, *body, outputNames);
    return true;
}

void GraphImporter::inlineBranch(const NodeRef& where, const Graph& branch,
                                 const std::vector<std::string>& outputNames) {
    // The branch's inputs are the outer values it captured, in capture order (If has no formal
    // inputs); every other value is a constant of the branch or a node output copied below.
    std::unordered_map<const Value*, Value*> outer;
    for (size_t i = 0; i < branch.inputs().size() && i < mNodeCaptures.size(); ++i)
        outer[branch.inputs()[i]] = mNodeCaptures[i];
    auto valueHere = [&](const Value* inner) -> Value* {
        if (!inner) return nullptr;
        if (auto it = outer.find(inner); it != outer.end()) return it->second;
        if (!inner->isConstant()) return nullptr;
        Value* copy = addHelperConstant(inner->name, *inner->constant);
        outer.emplace(inner, copy);
        return copy;
    };
    mCurrentNodeName = where.name;
    for (const std::unique_ptr<Node>& node : branch.nodes()) {
        std::vector<Value*> inputs;
        for (const Value* in : node->inputs) inputs.push_back(valueHere(in));
        std::vector<std::string> names;
        for (const Value* out : node->outputs) names.push_back(freshName(out ? out->name : where.name + "_omitted"));
        Node* copy = mGraph.addNode(node->opType, where.name + "/" + node->name, inputs, names, names.size());
        copy->domain = node->domain;
        copy->attrs = node->attrs;
        copy->sourceNodes = {where.name};
        for (size_t i = 0; i < node->outputs.size(); ++i) {
            if (node->outputs[i]) {
                outer.emplace(node->outputs[i], copy->outputs[i]);
                continue;
            }
            copy->outputs[i]->producer = nullptr;
            copy->outputs[i] = nullptr;
        }
        inferImportedNode(*copy, where);
    }
    for (size_t i = 0; i < outputNames.size(); ++i) {
        if (outputNames[i].empty()) continue;
        Value* result = valueHere(branch.outputs()[i]);
        if (!result) {
            nodeError(where, "output " + std::to_string(i) + " of the taken branch is not defined");
            definePlaceholders({outputNames[i]});
            continue;
        }
        const std::string name = i == 0 ? where.name : where.name + "/output" + std::to_string(i);
        Node* identity = mGraph.addNode("Identity", name, {result}, {outputNames[i]}, 1);
        identity->sourceNodes = {where.name};
        define(identity->outputs[0]);
        inferImportedNode(*identity, where);
    }
}

}  // namespace kiln::onnx_import
