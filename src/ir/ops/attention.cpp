// Attention (ONNX opset 23+): softmax(scale * Q K^T + bias) V, with multi-head, grouped-query and
// multi-query head counts, 4-D [batch, heads, seq, head_size] or 3-D [batch, seq, heads*head_size]
// layouts. The builder's attention fusion produces it from MatMul -> scale -> mask -> Softmax ->
// MatMul chains.

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

Status inferAttention(InferenceContext& ctx) {
    int64_t rank = ctx.inputRank(0);
    if (rank != 3 && rank != 4) return ctx.error("Q must be 3-D or 4-D, got rank " + std::to_string(rank));
    if (ctx.inputRank(1) != rank || ctx.inputRank(2) != rank)
        return ctx.error("Q, K and V must have the same rank");
    DataType type = ctx.inputType(0);
    const SymShape& q = ctx.inputShape(0);
    const SymShape& v = ctx.inputShape(2);
    SymShape y;
    if (rank == 4) {
        y = {q[0], q[1], q[2], v[3]};
    } else {
        auto qHeads = ctx.attrs().getInt("q_num_heads");
        auto kvHeads = ctx.attrs().getInt("kv_num_heads");
        if (!qHeads || !kvHeads || *qHeads <= 0 || *kvHeads <= 0)
            return ctx.error("3-D inputs need positive q_num_heads and kv_num_heads attributes");
        Dim hidden = Dim::unknown();
        if (v[2].isKnown()) hidden = Dim(v[2].value / *kvHeads * *qHeads);
        y = {q[0], q[1], hidden};
    }
    ctx.setOutput(0, type, y);
    // present_key / present_value / qk_matmul_output: shapes follow K, V and the score matrix.
    if (ctx.numOutputs() > 1) ctx.setOutput(1, type, ctx.inputShape(1));
    if (ctx.numOutputs() > 2) ctx.setOutput(2, type, ctx.inputShape(2));
    if (ctx.numOutputs() > 3) {
        const SymShape& k = ctx.inputShape(1);
        SymShape scores = rank == 4 ? SymShape{q[0], q[1], q[2], k[2]} : SymShape{q[0], Dim::unknown(), q[1], k[1]};
        ctx.setOutput(3, type, scores);
    }
    return Status::ok();
}

}  // namespace

void registerAttentionOps(OpRegistry& registry) { registry.add({"Attention", "", inferAttention, 3, 7}); }

}  // namespace kiln
