#include "passes/conv_fusion.h"

#include "passes/activation_matching.h"
#include "passes/pattern_utils.h"

namespace kiln {

Expected<bool> ConvFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> convs;
    for (const auto& n : graph.nodes())
        if (n->domain.empty() && n->opType == "Conv" && n->outputs[0]->dtype == DataType::kFLOAT) convs.push_back(n.get());
    for (Node* conv : convs) {
        Value* result = conv->output(0);
        std::vector<const Node*> chain = {conv};
        // A sibling Conv may already have absorbed the shared Add (ResNet's downsample block).
        Value* residual = takeResidualAdd(uses, removed, &result, chain);
        std::optional<FusableActivation> activation = absorbActivation(uses, &result, chain);
        if (chain.size() == 1) continue;
        std::vector<Value*> inputs = {conv->input(0), conv->input(1), conv->input(2)};
        if (residual) inputs.push_back(residual);
        Node* fused = addReplacementNode(graph, "FusedConv", "kiln", inputs, {result}, chain);
        fused->attrs = conv->attrs;
        if (activation) setActivation(*fused, *activation);
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + describeChain(chain) + " into " + fused->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
