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
    Node* inverse = uses.soleReaderIs(root, "Reciprocal");
    if (Node* div = uses.soleReaderIs(root, "Div"); div && div->input(1) == root) {
        if (div->input(0) == x) return div;
        if (scalarConstantIs(div->input(0), 1.0)) inverse = div;
    }
    Node* mul = inverse ? uses.soleReaderIs(inverse->output(0), "Mul") : nullptr;
    if (!mul || otherInput(*mul, inverse->output(0)) != x) return nullptr;
    chain.push_back(inverse);
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
        Node* addEps = axis ? uses.soleReaderIs(mean->output(0), "Add") : nullptr;
        const std::optional<double> eps = addEps ? scalarConstant(otherInput(*addEps, mean->output(0))) : std::nullopt;
        Node* sqrt = eps ? uses.soleReaderIs(addEps->output(0), "Sqrt") : nullptr;
        if (!sqrt) continue;
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
