#include "passes/attention_fusion.h"

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

bool isRank4Float(const Value* v) { return v && v->typeKnown && v->shape.size() == 4 && v->dtype == DataType::kFLOAT; }

/// A value is "on the score chain" when a scale or the QK MatMul produced it.
bool isScoreChain(const Value* v) { return producerIs(v, "Div") || producerIs(v, "Mul") || producerIs(v, "MatMul"); }

}  // namespace

Expected<bool> AttentionFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> softmaxes;
    for (const auto& n : graph.nodes())
        if (n->domain.empty() && n->opType == "Softmax") softmaxes.push_back(n.get());
    for (Node* softmax : softmaxes) {
        Value* scores = softmax->input(0);
        if (!isRank4Float(scores) || (softmax->attrs.getInt("axis", -1) != -1 && softmax->attrs.getInt("axis", -1) != 3))
            continue;
        std::vector<const Node*> chain;
        Value* mask = nullptr;
        Value* scaled = scores;
        if (Node* add = producerIs(scores, "Add")) {
            if (!uses.onlyFeeds(scores)) continue;
            Value* a = add->input(0);
            Value* b = add->input(1);
            if (isScoreChain(a)) { scaled = a; mask = b; }
            else if (isScoreChain(b)) { scaled = b; mask = a; }
            else continue;
            if (!mask->typeKnown || mask->shape.size() > 4 ||
                (mask->dtype != DataType::kFLOAT && mask->dtype != DataType::kBOOL))
                continue;
            // Attention pads a mask's short key axis with "masked" where Add would broadcast it, so a
            // mask whose key axis is 1 (broadcast over more keys) keeps the chain unfused. Any other
            // key extent must equal the keys' for the Add to be valid, symbolic or not.
            if (mask->shape.empty()) continue;
            const Dim& maskKeys = mask->shape.back();
            const Dim& keys = scores->shape[3];
            if (maskKeys.isKnown() && maskKeys.value == 1 && !(keys.isKnown() && keys.value == 1)) continue;
            chain.push_back(add);
        }
        double scale = 1.0;
        Value* product = scaled;
        if (Node* div = producerIs(scaled, "Div"); div && scalarConstant(div->input(1)) && *scalarConstant(div->input(1)) != 0) {
            scale = 1.0 / *scalarConstant(div->input(1));
            product = div->input(0);
            chain.push_back(div);
        } else if (Node* mul = producerIs(scaled, "Mul")) {
            auto c0 = scalarConstant(mul->input(0)), c1 = scalarConstant(mul->input(1));
            if (!c0 && !c1) continue;
            scale = c1 ? *c1 : *c0;
            product = c1 ? mul->input(0) : mul->input(1);
            chain.push_back(mul);
        }
        if (product != scores && !uses.onlyFeeds(scaled)) continue;
        Node* qk = producerIs(product, "MatMul");
        if (!qk || !uses.onlyFeeds(product)) continue;
        chain.push_back(qk);
        // torch's exported scaled_dot_product_attention scales Q and K (before or after its transpose)
        // by sqrt(scale) each, rather than the scores: those scalings fold into the scale as well.
        auto unscale = [&](Value*& operand) {
            Node* mul = producerIs(operand, "Mul");
            if (!mul || !uses.onlyFeeds(operand)) return;
            auto c0 = scalarConstant(mul->input(0)), c1 = scalarConstant(mul->input(1));
            if (!c0 && !c1) return;
            Value* unscaled = c1 ? mul->input(0) : mul->input(1);
            // The scalar must not broadcast the operand to another shape (or type).
            if (!unscaled->typeKnown || unscaled->shape != operand->shape || unscaled->dtype != operand->dtype) return;
            scale *= c1 ? *c1 : *c0;
            operand = unscaled;
            chain.push_back(mul);
        };
        Value* q = qk->input(0);
        Value* keysT = qk->input(1);
        unscale(q);
        unscale(keysT);
        Node* transpose = producerIs(keysT, "Transpose");
        if (!transpose || !isRank4Float(q) || !isRank4Float(transpose->input(0))) continue;
        std::vector<int64_t> perm = transpose->attrs.getInts("perm", {3, 2, 1, 0});
        if (perm.size() != 4) continue;
        // K^T = transpose(t, perm), so K = transpose(t, perm with its last two entries swapped).
        std::vector<int64_t> kPerm = {perm[0], perm[1], perm[3], perm[2]};
        Node* pv = uses.soleReaderIs(softmax->output(0), "MatMul");
        if (!pv || pv->input(0) != softmax->output(0) || !isRank4Float(pv->input(1))) continue;

        Value* k = transpose->input(0);
        const bool transposeGoes = uses.onlyFeeds(keysT);
        if (transposeGoes) unscale(k);  // a scaling before the transpose goes with it
        if (kPerm != std::vector<int64_t>{0, 1, 2, 3}) {
            Node* kt = graph.addNode("Transpose", transpose->name + "_key", {k}, {}, 1);
            kt->attrs.set("perm", kPerm);
            kt->sourceNodes = transpose->sourceNodes;
            k = kt->outputs[0];
            k->dtype = q->dtype;
            k->shape = {transpose->input(0)->shape[static_cast<size_t>(kPerm[0])], transpose->input(0)->shape[static_cast<size_t>(kPerm[1])],
                        transpose->input(0)->shape[static_cast<size_t>(kPerm[2])], transpose->input(0)->shape[static_cast<size_t>(kPerm[3])]};
            k->typeKnown = true;
        }
        if (transposeGoes) chain.push_back(transpose);
        chain.push_back(softmax);
        chain.push_back(pv);
        std::vector<Value*> inputs = {q, k, pv->input(1)};
        if (mask) inputs.push_back(mask);
        Node* attention = addReplacementNode(graph, "Attention", "", inputs, {pv->output(0)}, chain);
        attention->attrs.set("scale", static_cast<float>(scale));
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + std::to_string(chain.size()) + " layers around " + softmax->describe() + " into " +
                   attention->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
