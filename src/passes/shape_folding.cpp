#include "passes/shape_folding.h"

#include <unordered_set>

#include "passes/constant_folding.h"

namespace kiln {

Expected<bool> ShapeFolding::run(Graph& graph, PassContext& ctx) {
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    ShapeInferenceOptions options;
    options.evaluator = ctx.evaluator;
    KILN_RETURN_IF_ERROR(inferShapes(graph, infos, options));

    for (const auto& v : graph.values()) {
        if (!v || !infos[static_cast<size_t>(v->id)].known) continue;
        const ValueInfo& info = infos[static_cast<size_t>(v->id)];
        v->dtype = info.dtype;
        v->shape = info.shape;
        v->typeKnown = true;
    }
    std::unordered_set<const Node*> folded;
    for (const auto& node : graph.nodes()) {
        bool allKnown = !node->outputs.empty();
        for (const Value* out : node->outputs)
            allKnown = allKnown && (!out || infos[static_cast<size_t>(out->id)].value.has_value());
        if (!allKnown) continue;
        std::vector<Tensor> values;
        for (const Value* out : node->outputs)
            values.push_back(out ? *infos[static_cast<size_t>(out->id)].value : Tensor());
        ctx.record("folded " + node->describe() + " (its value follows from static shapes)");
        replaceNodeByConstants(graph, *node, std::move(values));
        folded.insert(node.get());
    }
    if (folded.empty()) return false;
    graph.removeNodes([&](const Node& n) { return folded.count(&n) != 0; });
    graph.removeUnusedValues();
    return true;
}

}  // namespace kiln
