#include "passes/residual_through_reshape.h"

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// A 2-D product whose epilogue can still take a residual: no residual yet and no activation.
bool takesResidual(const Node& n) {
    if (!isMatMulLike(n) || n.hasInput(3) || n.attrs.has("activation")) return false;
    const auto extents = staticExtents(n.output(0));
    return extents && extents->size() == 2;
}

}  // namespace

Expected<bool> ResidualThroughReshape::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> products;
    for (const auto& n : graph.nodes())
        if (takesResidual(*n)) products.push_back(n.get());
    for (Node* product : products) {
        Value* rows = product->output(0);
        Node* reshape = uses.soleReaderIs(rows, "Reshape");
        if (!reshape) continue;
        Value* reshaped = reshape->output(0);
        Node* add = uses.soleReaderIs(reshaped, "Add");
        if (!add) continue;
        Value* residual = otherInput(*add, reshaped);
        if (!residual || residual == reshaped || !sameTypeAndShape(residual, reshaped)) continue;

        const std::vector<int64_t> extents = *staticExtents(rows);
        Value* rowShape = graph.addConstant(graph.uniqueValueName(add->name + "_residual_rows_shape"),
                                            Tensor::fromInt64(extents, {static_cast<int64_t>(extents.size())}));
        Node* residualRows = graph.addNode("Reshape", add->name + "_residual_rows", {residual, rowShape}, {}, 1);
        residualRows->sourceNodes = add->sourceNodes;
        Value* residualView = residualRows->outputs[0];
        residualView->dtype = residual->dtype;
        residualView->shape = rows->shape;
        residualView->typeKnown = true;

        Value* sum = graph.addValue(graph.uniqueValueName(rows->name + "_with_residual"), rows->dtype);
        sum->shape = rows->shape;
        sum->typeKnown = true;
        Node* fused = addReplacementNode(graph, "FusedMatMul", "kiln",
                                         {product->input(0), product->input(1), product->input(2), residualView},
                                         {sum}, {product, add});
        if (product->opType == "FusedMatMul") fused->attrs = product->attrs;
        Node* back = addReplacementNode(graph, "Reshape", "", {sum, reshape->input(1)}, {add->output(0)}, {reshape});
        back->attrs = reshape->attrs;  // allowzero, if set
        removed.insert({product, reshape, add});
        ctx.record("took " + add->describe() + " behind " + reshape->describe() + " into " + fused->describe() +
                   " as its residual");
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
