#include "passes/shape_folding.h"

#include <unordered_set>

#include "passes/constant_folding.h"
#include "passes/static_shape_elements.h"

namespace kiln {

namespace {

/// Infers every value's type, shape and (where known) contents, and writes the types and shapes back.
Expected<std::vector<ValueInfo>> inferAndWriteBack(Graph& graph, const PassContext& ctx) {
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
    return infos;
}

}  // namespace

Expected<bool> ShapeFolding::run(Graph& graph, PassContext& ctx) {
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> infos, inferAndWriteBack(graph, ctx));
    // Static extents picked out of partly dynamic shapes first: what follows from them is then known.
    KILN_ASSIGN_OR_RETURN(size_t picked, foldStaticShapeElements(graph, infos, ctx));
    if (picked > 0) {
        KILN_ASSIGN_OR_RETURN(infos, inferAndWriteBack(graph, ctx));
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
    if (folded.empty()) return picked > 0;
    graph.removeNodes([&](const Node& n) { return folded.count(&n) != 0; });
    graph.removeUnusedValues();
    return true;
}

}  // namespace kiln
