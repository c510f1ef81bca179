#include "passes/rms_norm_fusion.h"

#include "passes/normalization_patterns.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// The x of x^2 written as Pow(x, 2) or x * x, else nullptr.
Value* squared(const Value* v) {
    if (Node* pow = producerIs(v, "Pow")) return scalarConstantIs(pow->input(1), 2.0) ? pow->input(0) : nullptr;
    if (Node* mul = producerIs(v, "Mul")) return mul->input(0) == mul->input(1) ? mul->input(0) : nullptr;
    return nullptr;
}

/// x / root, x * Reciprocal(root) or x * (1 / root), reading `root` (the Sqrt's output): the node giving
/// the normalized x, with the nodes after the Sqrt in `chain`; nullptr for anything else.
Node* divideByRoot(const Uses& uses, Value* root, const Value* x, std::vector<const Node*>& chain) {
    if (!uses.onlyFeeds(root)) return nullptr;
    Node* next = uses.readers(root)[0];
    if (next->domain.empty() && next->opType == "Div" && next->input(1) == root && next->input(0) == x) return next;
    Value* inverse = nullptr;
    if (next->domain.empty() && next->opType == "Reciprocal")
        inverse = next->output(0);
    else if (next->domain.empty() && next->opType == "Div" && next->input(1) == root &&
             scalarConstantIs(next->input(0), 1.0))
        inverse = next->output(0);
    if (!inverse || !uses.onlyFeeds(inverse)) return nullptr;
    Node* mul = uses.readers(inverse)[0];
    if (!mul->domain.empty() || mul->opType != "Mul" || otherInput(*mul, inverse) != x) return nullptr;
    chain.push_back(next);
    return mul;
}

}  // namespace

Expected<bool> RmsNormFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    for (Node* mean : nodesOfType(graph, "ReduceMean")) {
        Value* square = mean->input(0);
        Value* x = squared(square);
        if (!x || !x->typeKnown || x->dtype != DataType::kFLOAT || !uses.onlyFeeds(square)) continue;
        const auto axis = trailingAxes(*mean, static_cast<int64_t>(x->shape.size()));
        if (!axis || !uses.onlyFeeds(mean->output(0))) continue;
        Node* addEps = uses.readers(mean->output(0))[0];
        if (!addEps->domain.empty() || addEps->opType != "Add") continue;
        const std::optional<double> eps = scalarConstant(otherInput(*addEps, mean->output(0)));
        if (!eps || !uses.onlyFeeds(addEps->output(0))) continue;
        Node* sqrt = uses.readers(addEps->output(0))[0];
        if (!sqrt->domain.empty() || sqrt->opType != "Sqrt") continue;
        std::vector<const Node*> chain = {square->producer, mean, addEps, sqrt};
        Node* normalize = divideByRoot(uses, sqrt->output(0), x, chain);
        if (!normalize) continue;
        chain.push_back(normalize);
        Value* result = normalize->output(0);
        Value* gamma = nullptr;
        if (Node* mul = uses.soleReaderIs(result, "Mul");
            mul && matchesNormalizedShape(otherInput(*mul, result), x, *axis)) {
            gamma = otherInput(*mul, result);
            chain.push_back(mul);
            result = mul->output(0);
        }
        bool taken = false;
        for (const Node* n : chain) taken = taken || removed.count(n);
        if (taken) continue;
        if (!gamma) {
            auto normalized = normalizedShape(x, *axis);
            if (!normalized) continue;
            gamma = graph.addConstant(graph.uniqueValueName(mean->name + "_ones"), onesLike(x->dtype, *normalized));
        }
        Node* rms = addReplacementNode(graph, "RMSNormalization", "", {x, gamma}, {result}, chain);
        rms->attrs.set("axis", *axis);
        rms->attrs.set("epsilon", static_cast<float>(*eps));
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + std::to_string(chain.size()) + " layers from " + mean->describe() + " into " +
                   rms->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
