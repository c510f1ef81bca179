#include "ir/verifier.h"

#include <optional>
#include <unordered_set>

#include "ir/control_flow.h"
#include "ir/op_registry.h"

namespace kiln {

namespace {

/// How many formal inputs (before the captures) each subgraph of `node` takes, for the ops whose
/// subgraphs bind by position (ir/control_flow.h): none for If's branches; one per formal node
/// input for Loop's and Scan's bodies (Loop's M and cond become the iteration number and
/// condition); the score or probability tensor for FlexAttention's modifiers.
std::optional<size_t> formalSubgraphInputs(const Node& node, size_t captured) {
    if (node.domain.empty() && node.opType == "If") return 0;
    if (node.domain.empty() && (node.opType == "Loop" || node.opType == "Scan")) return node.inputs.size() - captured;
    if (node.domain == "ai.onnx.preview" && node.opType == "FlexAttention") return 1;
    return std::nullopt;
}

Status verifySubgraphBinding(const Node& node, size_t formal) {
    const int64_t captured = capturedInputCount(node);
    for (const auto& [name, value] : node.attrs.all()) {
        const auto* graph = std::get_if<std::shared_ptr<Graph>>(&value);
        if (!graph || !*graph) continue;
        const size_t expected = formal + static_cast<size_t>(captured);
        if ((*graph)->inputs().size() != expected)
            return internalError(node.describe() + ": subgraph '" + name + "' has " +
                                 std::to_string((*graph)->inputs().size()) + " inputs, its binding gives " +
                                 std::to_string(expected));
        Status inner = verifyGraph(**graph);
        if (!inner) return internalError(node.describe() + ": in subgraph '" + name + "': " + inner.message());
    }
    return Status::ok();
}

}  // namespace

Status verifyGraph(const Graph& graph) {
    std::unordered_set<const Value*> defined;
    std::unordered_set<std::string> names;
    for (const auto& v : graph.values()) {
        if (!v) continue;
        if (!names.insert(v->name).second) return internalError("two values are named '" + v->name + "'");
        if (v->isConstant()) {
            if (v->producer) return internalError("constant '" + v->name + "' also has a producer");
            defined.insert(v.get());
        }
    }
    for (const Value* in : graph.inputs()) {
        if (in->isConstant() || in->producer) return internalError("graph input '" + in->name + "' is also a constant or produced");
        defined.insert(in);
    }
    for (const auto& node : graph.nodes()) {
        if (!OpRegistry::global().find(node->domain, node->opType))
            return internalError(node->describe() + ": no schema for this op");
        const int64_t captured = capturedInputCount(*node);
        if (captured < 0 || static_cast<size_t>(captured) > node->inputs.size())
            return internalError(node->describe() + ": " + kCapturedInputsAttr + " = " + std::to_string(captured) +
                                 " does not fit its " + std::to_string(node->inputs.size()) + " inputs");
        if (std::optional<size_t> formal = formalSubgraphInputs(*node, static_cast<size_t>(captured)))
            KILN_RETURN_IF_ERROR(verifySubgraphBinding(*node, *formal));
        for (size_t i = 0; i < node->inputs.size(); ++i) {
            const Value* in = node->inputs[i];
            if (in && !defined.count(in))
                return internalError(node->describe() + ": input " + std::to_string(i) + " '" + in->name +
                                     "' is not defined before the node (order or a dangling reference)");
        }
        for (size_t i = 0; i < node->outputs.size(); ++i) {
            const Value* out = node->outputs[i];
            if (!out) continue;
            if (out->producer != node.get() || out->producerOutput != static_cast<int32_t>(i))
                return internalError(node->describe() + ": output '" + out->name + "' has a wrong producer link");
            if (!defined.insert(out).second)
                return internalError(node->describe() + ": output '" + out->name + "' is defined twice");
        }
    }
    for (const Value* out : graph.outputs())
        if (!defined.count(out)) return internalError("graph output '" + out->name + "' is not defined");
    return Status::ok();
}

}  // namespace kiln
