#include "passes/matmul_fusion.h"

#include "passes/activation_matching.h"
#include "passes/pattern_utils.h"

namespace kiln {

Expected<bool> MatMulFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> matmuls;
    for (const auto& n : graph.nodes())
        if (n->domain.empty() && n->opType == "MatMul" && n->outputs[0]->dtype == DataType::kFLOAT &&
            n->outputs[0]->shape.size() >= 2)
            matmuls.push_back(n.get());
    for (Node* matmul : matmuls) {
        Value* result = matmul->output(0);
        std::vector<const Node*> chain = {matmul};
        Value* bias = nullptr;
        if (Node* add = uses.soleReaderIs(result, "Add"); add && !removed.count(add)) {
            Value* other = otherInput(*add, result);
            const Dim& n = result->shape.back();
            if (other && other->isConstant() && other->constant->rank() == 1 && n.isKnown() &&
                other->constant->elementCount() == n.value && other->dtype == result->dtype) {
                bias = other;
                chain.push_back(add);
                result = add->output(0);
            }
        }
        std::optional<FusableActivation> activation = absorbActivation(uses, &result, chain);
        if (chain.size() == 1) continue;
        std::vector<Value*> inputs = {matmul->input(0), matmul->input(1)};
        if (bias) inputs.push_back(bias);
        Node* fused = addReplacementNode(graph, "FusedMatMul", "kiln", inputs, {result}, chain);
        if (activation) setActivation(*fused, *activation);
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + describeChain(chain) + " into " + fused->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
