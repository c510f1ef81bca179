#include "passes/attention_fusion.h"

#include <utility>
#include <vector>

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// A float tensor of `rank` known dims: 4 ([batch, heads, seq, head]) or 3 (heads folded into the batch,
/// as torch's MultiheadAttention before 2.0 and bmm-based exporters write attention).
bool isFloatOfRank(const Value* v, size_t rank) {
    return v && v->typeKnown && v->shape.size() == rank && v->dtype == DataType::kFLOAT;
}

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
        const size_t rank = scores && scores->typeKnown ? scores->shape.size() : 0;
        const int64_t axis = softmax->attrs.getInt("axis", -1);
        if ((rank != 3 && rank != 4) || !isFloatOfRank(scores, rank) || (axis != -1 && axis != static_cast<int64_t>(rank) - 1))
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
            // A 3-D attention becomes one head of batch B*H: its mask may broadcast over that batch only
            // (rank <= 2), since Attention right-aligns a mask to (batch, heads, queries, keys).
            if (!mask->typeKnown || mask->shape.size() > (rank == 4 ? 4u : 2u) ||
                (mask->dtype != DataType::kFLOAT && mask->dtype != DataType::kBOOL))
                continue;
            // Attention pads a mask's short key axis with "masked" where Add would broadcast it, so a
            // mask whose key axis is 1 (broadcast over more keys) keeps the chain unfused. Any other
            // key extent must equal the keys' for the Add to be valid, symbolic or not.
            if (mask->shape.empty()) continue;
            const Dim& maskKeys = mask->shape.back();
            const Dim& keys = scores->shape[rank - 1];
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
        // by sqrt(scale) each, and torch's older MultiheadAttention divides Q by sqrt(head), rather than
        // scaling the scores: those scalings fold into the scale as well.
        auto unscale = [&](Value*& operand) {
            Node* mul = producerIs(operand, "Mul");
            Node* div = mul ? nullptr : producerIs(operand, "Div");
            if ((!mul && !div) || !uses.onlyFeeds(operand)) return;
            double factor = 0;
            Value* unscaled = nullptr;
            if (mul) {
                auto c0 = scalarConstant(mul->input(0)), c1 = scalarConstant(mul->input(1));
                if (!c0 && !c1) return;
                unscaled = c1 ? mul->input(0) : mul->input(1);
                factor = c1 ? *c1 : *c0;
            } else {
                auto divisor = scalarConstant(div->input(1));
                if (!divisor || *divisor == 0) return;
                unscaled = div->input(0);
                factor = 1.0 / *divisor;
            }
            // The scalar must not broadcast the operand to another shape (or type).
            if (!unscaled->typeKnown || unscaled->shape != operand->shape || unscaled->dtype != operand->dtype) return;
            scale *= factor;
            operand = unscaled;
            chain.push_back(mul ? mul : div);
        };
        Value* q = qk->input(0);
        Value* keysT = qk->input(1);
        unscale(q);
        unscale(keysT);
        Node* transpose = producerIs(keysT, "Transpose");
        if (!transpose || !isFloatOfRank(q, rank) || !isFloatOfRank(transpose->input(0), rank)) continue;
        std::vector<int64_t> reversed(rank);
        for (size_t d = 0; d < rank; ++d) reversed[d] = static_cast<int64_t>(rank - 1 - d);
        std::vector<int64_t> perm = transpose->attrs.getInts("perm", reversed);
        if (perm.size() != rank) continue;
        // K^T = transpose(t, perm), so K = transpose(t, perm with its last two entries swapped).
        std::vector<int64_t> kPerm = perm;
        std::swap(kPerm[rank - 1], kPerm[rank - 2]);
        Node* pv = uses.soleReaderIs(softmax->output(0), "MatMul");
        if (!pv || pv->input(0) != softmax->output(0) || !isFloatOfRank(pv->input(1), rank)) continue;

        Value* k = transpose->input(0);
        const bool transposeGoes = uses.onlyFeeds(keysT);
        if (transposeGoes) unscale(k);  // a scaling before the transpose goes with it
        std::vector<int64_t> identity(rank);
        for (size_t d = 0; d < rank; ++d) identity[d] = static_cast<int64_t>(d);
        if (kPerm != identity) {
            Node* kt = graph.addNode("Transpose", transpose->name + "_key", {k}, {}, 1);
            kt->attrs.set("perm", kPerm);
            kt->sourceNodes = transpose->sourceNodes;
            k = kt->outputs[0];
            k->dtype = q->dtype;
            k->shape.clear();
            for (int64_t d : kPerm) k->shape.push_back(transpose->input(0)->shape[static_cast<size_t>(d)]);
            k->typeKnown = true;
        }
        if (transposeGoes) chain.push_back(transpose);
        chain.push_back(softmax);
        chain.push_back(pv);
        std::vector<Value*> inputs = {q, k, pv->input(1)};
        if (mask) inputs.push_back(mask);
        Node* attention = addReplacementNode(graph, "Attention", "", inputs, {pv->output(0)}, chain);
        attention->attrs.set("scale", static_cast<float>(scale));
        if (rank == 3) {  // [batch * heads, seq, head] is Attention's 3-D form with one head
            attention->attrs.set("q_num_heads", int64_t{1});
            attention->attrs.set("kv_num_heads", int64_t{1});
        }
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + std::to_string(chain.size()) + " layers around " + softmax->describe() + " into " +
                   attention->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
