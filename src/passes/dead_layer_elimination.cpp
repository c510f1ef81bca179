#include "passes/dead_layer_elimination.h"

#include <unordered_set>

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
    if (live.size() == nodes.size()) return false;
    for (const auto& node : nodes)
        if (!live.count(node.get())) ctx.record("removed " + node->describe() + ": no output is used");
    graph.removeNodes([&](const Node& n) { return !live.count(&n); });
    graph.removeUnusedValues();
    return true;
}

}  // namespace kiln
