#include "passes/identity_elimination.h"

#include <unordered_set>

#include "ir/onnx_types.h"

namespace kiln {

namespace {

bool sameStaticShape(const Value& a, const Value& b) {
    return a.typeKnown && b.typeKnown && isFullyKnown(a.shape) && isFullyKnown(b.shape) &&
           toConcrete(a.shape) == toConcrete(b.shape) && a.dtype == b.dtype;
}

/// Whether `node` (reading input 0) returns it unchanged.
bool isNoOp(const Graph& graph, const Node& node) {
    const Value* in = node.input(0);
    const Value* out = node.output(0);
    if (!in || !out) return false;
    const std::string& op = node.opType;
    if (op == "Identity") return true;
    if (op == "Dropout") {
        const Value* mask = node.output(1);
        bool maskUsed = mask && (!graph.consumers(mask).empty() || graph.isGraphOutput(mask));
        return !maskUsed && !node.hasInput(2);  // training_mode given: leave it to the kernel's check
    }
    if (op == "Cast") {
        auto to = dataTypeFromOnnx(node.attrs.getInt("to", -1));
        return to && in->typeKnown && *to == in->dtype;
    }
    if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Expand")
        return sameStaticShape(*in, *out);
    return false;
}

}  // namespace

Expected<bool> IdentityElimination::run(Graph& graph, PassContext& ctx) {
    std::unordered_set<const Node*> removed;
    for (const auto& node : graph.nodes()) {
        if (!node->domain.empty() || !isNoOp(graph, *node)) continue;
        Value* out = node->outputs[0];
        if (graph.isGraphOutput(out)) continue;  // the output's name is part of the network's interface
        graph.replaceAllUses(out, node->inputs[0]);
        removed.insert(node.get());
        ctx.record("removed " + node->describe() + ": returns its input unchanged");
    }
    if (removed.empty()) return false;
    graph.removeNodes([&](const Node& n) { return removed.count(&n) != 0; });
    graph.removeUnusedValues();
    return true;
}

}  // namespace kiln
