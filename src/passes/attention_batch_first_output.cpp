#include "passes/attention_batch_first_output.h"

#include <optional>
#include <string>
#include <vector>

#include "ir/ops/attention_views.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

bool transposes(const Node* node, const std::vector<int64_t>& perm) {
    return node && node->attrs.getInts("perm") == std::optional<std::vector<int64_t>>(perm);
}

/// A projection that acts on each row of its 2-D input alone: Gemm without transA, MatMul or Kiln's
/// FusedMatMul by a 2-D right operand.
bool projectsRows(const Node* node) {
    if (!node || !node->input(1) || !node->input(1)->typeKnown || node->input(1)->shape.size() != 2) return false;
    if (node->domain.empty() && node->opType == "Gemm") return node->attrs.getInt("transA", 0) == 0;
    return isMatMulLike(*node);
}

/// The pattern around one Attention: the layers it replaces and the values it keeps.
struct SequenceFirstProjection {
    Node* toSequenceFirst{nullptr};  // Transpose(2, 0, 1, 3)
    Node* rows{nullptr};             // Reshape [s * b, width]
    Node* projection{nullptr};
    Node* grid{nullptr};             // Reshape [s, b, out]
    Node* toBatchFirst{nullptr};     // Transpose(1, 0, 2)
    int64_t batch{0}, seq{0}, width{0}, out{0};
};

std::optional<SequenceFirstProjection> match(const Node& attention, const Uses& uses) {
    SequenceFirstProjection m;
    const Value* y = attention.output(0);
    const auto yExtents = staticExtents(y);
    if (!yExtents || yExtents->size() != 4) return std::nullopt;
    m.toSequenceFirst = uses.soleReaderIs(y, "Transpose");
    if (!transposes(m.toSequenceFirst, {2, 0, 1, 3})) return std::nullopt;
    m.rows = uses.soleReaderIs(m.toSequenceFirst->output(0), "Reshape");
    if (!m.rows) return std::nullopt;
    const Value* rows = m.rows->output(0);
    const std::vector<Node*>& readers = uses.readers(rows);
    if (readers.size() != 1 || uses.isOutput(rows) || !projectsRows(readers[0]) || readers[0]->input(0) != rows)
        return std::nullopt;
    m.projection = readers[0];
    m.grid = uses.soleReaderIs(m.projection->output(0), "Reshape");
    if (!m.grid) return std::nullopt;
    m.toBatchFirst = uses.soleReaderIs(m.grid->output(0), "Transpose");
    if (!transposes(m.toBatchFirst, {1, 0, 2})) return std::nullopt;
    m.batch = (*yExtents)[0];
    m.seq = (*yExtents)[2];
    m.width = (*yExtents)[1] * (*yExtents)[3];
    const auto rowExtents = staticExtents(rows);
    const auto projected = staticExtents(m.projection->output(0));
    const auto grid = staticExtents(m.grid->output(0));
    if (!rowExtents || *rowExtents != std::vector<int64_t>{m.seq * m.batch, m.width} || !projected ||
        projected->size() != 2 || !grid || grid->size() != 3 || (*grid)[0] != m.seq || (*grid)[1] != m.batch)
        return std::nullopt;
    m.out = (*projected)[1];
    return m;
}

}  // namespace

Expected<bool> AttentionBatchFirstOutput::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    for (Node* attention : nodesOfType(graph, "Attention")) {
        DecodedAttentionInputViews decoded = decodeAttentionInputViews(attention->attrs);
        if (!decoded.views || decoded.views->outputRank != 4) continue;
        const auto m = match(*attention, uses);
        if (!m) continue;
        const int64_t heads = decoded.views->qkv[0].heads;
        // Y as [b, s, heads * head]: the 3-D form, heads by q_num_heads.
        Value* y = graph.addValue(graph.uniqueValueName(attention->output(0)->name + "_batch_first"),
                                  attention->output(0)->dtype);
        y->shape = {m->batch, m->seq, m->width};
        y->typeKnown = true;
        y->producer = attention;
        y->producerOutput = 0;
        attention->outputs[0] = y;
        decoded.views->outputRank = 3;
        attention->attrs.set(kQkvViewsAttribute, encodeAttentionInputViews(*decoded.views));
        attention->attrs.set("q_num_heads", heads);
        attention->attrs.set("kv_num_heads", decoded.views->qkv[1].heads);
        // The rows in batch-first order, projected, then split back into [b, s, out].
        auto reshapeTo = [&](Value* in, std::vector<int64_t> target, Value* out, const Node* replaced) {
            Value* shape = graph.addConstant(graph.uniqueValueName(replaced->name + "_batch_first_shape"),
                                             Tensor::fromInt64(target, {static_cast<int64_t>(target.size())}));
            addReplacementNode(graph, "Reshape", "", {in, shape}, {out}, {replaced});
        };
        reshapeTo(y, {m->batch * m->seq, m->width}, m->rows->output(0), m->rows);
        reshapeTo(m->projection->output(0), {m->batch, m->seq, m->out}, m->toBatchFirst->output(0), m->toBatchFirst);
        for (const Node* n : {m->toSequenceFirst, m->rows, m->grid, m->toBatchFirst}) removed.insert(n);
        ctx.record("let " + attention->describe() + " write batch-first rows for " + m->projection->describe() +
                   " (2 transposes gone)");
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
