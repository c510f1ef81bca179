#include "passes/layer_norm_fusion.h"

#include "passes/normalization_patterns.h"
#include "passes/pattern_utils.h"

namespace kiln {

Expected<bool> LayerNormFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> divs;
    for (const auto& n : graph.nodes())
        if (n->domain.empty() && n->opType == "Div") divs.push_back(n.get());
    for (Node* div : divs) {
        Value* centered = div->input(0);
        Node* sqrt = producerIs(div->input(1), "Sqrt");
        Node* addEps = sqrt ? producerIs(sqrt->input(0), "Add") : nullptr;
        if (!addEps) continue;
        Value* variance = nullptr;
        std::optional<double> eps;
        for (size_t i = 0; i < 2 && !eps; ++i) {
            eps = scalarConstant(addEps->input(i));
            variance = addEps->input(1 - i);
        }
        Node* meanOfSquares = producerIs(variance, "ReduceMean");
        Node* pow = meanOfSquares ? producerIs(meanOfSquares->input(0), "Pow") : nullptr;
        Node* sub = producerIs(centered, "Sub");
        if (!eps || !pow || !sub || pow->input(0) != centered || !near(scalarConstant(pow->input(1)).value_or(0), 2.0))
            continue;
        Value* x = sub->input(0);
        Node* mean = producerIs(sub->input(1), "ReduceMean");
        if (!mean || mean->input(0) != x || !x->typeKnown || x->dtype != DataType::kFLOAT) continue;
        int64_t rank = static_cast<int64_t>(x->shape.size());
        auto axis = trailingAxes(*mean, rank);
        if (!axis || trailingAxes(*meanOfSquares, rank) != axis) continue;
        // Every intermediate must feed only this pattern (centered feeds Pow and Div).
        if (uses.count(centered) != 2 || uses.isOutput(centered) || !uses.onlyFeeds(mean->output(0)) ||
            !uses.onlyFeeds(pow->output(0)) || !uses.onlyFeeds(variance) || !uses.onlyFeeds(addEps->output(0)) ||
            !uses.onlyFeeds(sqrt->output(0)))
            continue;
        std::vector<const Node*> chain = {mean, sub, pow, meanOfSquares, addEps, sqrt, div};
        Value* result = div->output(0);
        Value* gamma = nullptr;
        Value* beta = nullptr;
        if (Node* mul = uses.soleReaderIs(result, "Mul"); mul && matchesNormalizedShape(otherInput(*mul, result), x, *axis)) {
            gamma = otherInput(*mul, result);
            chain.push_back(mul);
            result = mul->output(0);
            if (Node* add = uses.soleReaderIs(result, "Add"); add && matchesNormalizedShape(otherInput(*add, result), x, *axis)) {
                beta = otherInput(*add, result);
                chain.push_back(add);
                result = add->output(0);
            }
        }
        if (!gamma) {
            auto normalized = normalizedShape(x, *axis);
            if (!normalized) continue;
            gamma = graph.addConstant(graph.uniqueValueName(div->name + "_ones"), onesLike(x->dtype, *normalized));
        }
        std::vector<Value*> inputs = {x, gamma};
        if (beta) inputs.push_back(beta);
        Node* ln = addReplacementNode(graph, "LayerNormalization", "", inputs, {result}, chain);
        ln->attrs.set("axis", *axis);
        ln->attrs.set("epsilon", static_cast<float>(*eps));
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + std::to_string(chain.size()) + " layers ending at " + div->describe() + " into " + ln->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
