#include "passes/dead_layer_elimination.h"

#include <unordered_set>

#include "ir/op_registry.h"

namespace kiln {

Expected<bool> DeadLayerElimination::run(Graph& graph, PassContext& ctx) {
    std::unordered_set<const Value*> needed(graph.outputs().begin(), graph.outputs().end());
    std::unordered_set<const Node*> live;
    const auto& nodes = graph.nodes();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
        const Node& node = **it;
        bool isLive = false;
        for (const Value* out : node.outputs) isLive = isLive || (out && needed.count(out));
        if (!isLive) continue;
        live.insert(&node);
        for (const Value* in : node.inputs)
            if (in) needed.insert(in);
    }
    // Optional outputs nothing reads are dropped from live layers, so their kernels skip them
    // (MaxPool's indices, LayerNormalization's mean and inverse deviation, Dropout's mask).
    bool droppedOutputs = false;
    for (const auto& node : nodes) {
        if (!live.count(node.get())) continue;
        const OpSchema* schema = OpRegistry::global().find(node->domain, node->opType);
        if (!schema) continue;
        for (size_t i = schema->requiredOutputs; i < node->outputs.size(); ++i) {
            Value*& out = node->outputs[i];
            if (!out || needed.count(out)) continue;
            ctx.record("dropped unused output '" + out->name + "' of " + node->describe());
            out->producer = nullptr;
            out = nullptr;
            droppedOutputs = true;
        }
    }
    if (live.size() == nodes.size()) {
        if (droppedOutputs) graph.removeUnusedValues();
        return droppedOutputs;
    }
    for (const auto& node : nodes)
        if (!live.count(node.get())) ctx.record("removed " + node->describe() + ": no output is used");
    graph.removeNodes([&](const Node& n) { return !live.count(&n); });
    graph.removeUnusedValues();
    return true;
}

}  // namespace kiln
