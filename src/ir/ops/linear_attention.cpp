// LinearAttention (opset 27): the recurrent linear-attention family (linear attention, GLA /
// RetNet gating, DeltaNet, Gated DeltaNet) as one op. A state S of (d_k x d_v) per KV head is
// updated token by token with the update_rule's recurrence and read by the query heads that share
// the KV head (grouped-query attention). Q/K/V, decay and beta are packed 3-D (B, T, heads * dim);
// past_state and present_state are (B, H_kv, d_k, d_v). present_state has past_state's type, or
// the query's when past_state is omitted.

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

bool isAttentionType(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16;
}

/// `packed` / `heads`, when known; `packed` must divide evenly.
Expected<Dim> perHead(const InferenceContext& ctx, const Dim& packed, int64_t heads, const std::string& what) {
    if (!packed.isKnown()) return Dim::unknown();
    if (packed.value % heads != 0)
        return ctx.error(what + "'s last dimension " + std::to_string(packed.value) + " is not a multiple of its " +
                         std::to_string(heads) + " heads");
    return Dim(packed.value / heads);
}

/// Fails unless input `index`'s dims [0, 2) merge with (batch, time); updates both.
Status mergeBatchAndTime(const InferenceContext& ctx, size_t index, const std::string& what, Dim& batch, Dim& time) {
    const SymShape& s = ctx.inputShape(index);
    std::optional<Dim> b = shapeinfer::mergeEqualDims(batch, s[0]);
    std::optional<Dim> t = shapeinfer::mergeEqualDims(time, s[1]);
    if (!b || !t)
        return ctx.error(what + " " + symShapeToString(s) + " does not share query's batch and sequence dims (" +
                         batch.toString() + ", " + time.toString() + ")");
    batch = *b;
    time = *t;
    return Status::ok();
}

Status inferLinearAttention(InferenceContext& ctx) {
    const std::string rule = ctx.attrs().getString("update_rule", "gated_delta");
    if (rule != "linear" && rule != "gated" && rule != "delta" && rule != "gated_delta")
        return ctx.error("update_rule '" + rule + "' is not one of linear, gated, delta, gated_delta");
    const std::optional<int64_t> qHeads = ctx.attrs().getInt("q_num_heads");
    const std::optional<int64_t> kvHeads = ctx.attrs().getInt("kv_num_heads");
    if (!qHeads || !kvHeads) return ctx.error("attributes q_num_heads and kv_num_heads are required");
    if (*qHeads <= 0 || *kvHeads <= 0 || *qHeads % *kvHeads != 0)
        return ctx.error("q_num_heads (" + std::to_string(*qHeads) + ") must be a positive multiple of kv_num_heads (" +
                         std::to_string(*kvHeads) + ")");
    const DataType type = ctx.inputType(0);
    if (!isAttentionType(type)) return ctx.error(std::string("query must be float, float16 or bfloat16, got ") + dataTypeName(type));

    const bool gated = rule == "gated" || rule == "gated_delta";
    const bool delta = rule == "delta" || rule == "gated_delta";
    if (gated != ctx.hasInput(4))
        return ctx.error("update_rule '" + rule + "' " + (gated ? "requires" : "takes no") + " decay input");
    if (delta != ctx.hasInput(5))
        return ctx.error("update_rule '" + rule + "' " + (delta ? "requires" : "takes no") + " beta input");
    static const char* kNames[] = {"query", "key", "value", "past_state", "decay", "beta"};
    for (size_t i : {size_t{0}, size_t{1}, size_t{2}, size_t{4}, size_t{5}}) {
        if (!ctx.hasInput(i)) continue;
        if (ctx.inputType(i) != type)
            return ctx.error(std::string(kNames[i]) + " is " + dataTypeName(ctx.inputType(i)) + " but query is " + dataTypeName(type));
        if (ctx.inputRank(i) != 3) return ctx.error(std::string(kNames[i]) + " must have rank 3 (B, T, heads * dim)");
    }

    const SymShape& q = ctx.inputShape(0);
    Dim batch = q[0], time = q[1];
    for (size_t i : {size_t{1}, size_t{2}, size_t{4}, size_t{5}})
        if (ctx.hasInput(i)) KILN_RETURN_IF_ERROR(mergeBatchAndTime(ctx, i, kNames[i], batch, time));
    KILN_ASSIGN_OR_RETURN(Dim dk, perHead(ctx, q[2], *qHeads, "query"));
    KILN_ASSIGN_OR_RETURN(Dim keyDk, perHead(ctx, ctx.inputShape(1)[2], *kvHeads, "key"));
    KILN_ASSIGN_OR_RETURN(Dim dv, perHead(ctx, ctx.inputShape(2)[2], *kvHeads, "value"));
    std::optional<Dim> mergedDk = shapeinfer::mergeEqualDims(dk, keyDk);
    if (!mergedDk) return ctx.error("query and key have different head sizes (" + dk.toString() + " and " + keyDk.toString() + ")");
    dk = *mergedDk;
    if (ctx.hasInput(4)) {
        const Dim& last = ctx.inputShape(4)[2];
        if (last.isKnown() && last.value != *kvHeads && !(dk.isKnown() && last.value == *kvHeads * dk.value))
            return ctx.error("decay's last dimension " + last.toString() + " must be kv_num_heads (" + std::to_string(*kvHeads) +
                             ") or kv_num_heads * d_k");
    }
    if (ctx.hasInput(5)) {
        const Dim& last = ctx.inputShape(5)[2];
        if (last.isKnown() && last.value != *kvHeads && last.value != 1)
            return ctx.error("beta's last dimension " + last.toString() + " must be kv_num_heads (" + std::to_string(*kvHeads) +
                             ") or 1");
    }
    SymShape state{batch, Dim(*kvHeads), dk, dv};
    DataType stateType = type;
    if (ctx.hasInput(3)) {
        stateType = ctx.inputType(3);
        if (!isAttentionType(stateType))
            return ctx.error(std::string("past_state must be float, float16 or bfloat16, got ") + dataTypeName(stateType));
        const SymShape& past = ctx.inputShape(3);
        bool fits = past.size() == 4;
        for (size_t i = 0; fits && i < 4; ++i) {
            std::optional<Dim> merged = shapeinfer::mergeEqualDims(past[i], state[i]);
            fits = merged.has_value();
            if (fits) state[i] = *merged;
        }
        if (!fits)
            return ctx.error("past_state must have shape (B, H_kv, d_k, d_v) = " + symShapeToString(state) + ", got " +
                             symShapeToString(past));
    }
    const Dim outWidth = state[3].isKnown() ? Dim(*qHeads * state[3].value) : Dim::unknown();
    ctx.setOutput(0, type, {state[0], time, outWidth});
    if (ctx.numOutputs() > 1) ctx.setOutput(1, stateType, state);
    return Status::ok();
}

}  // namespace

void registerLinearAttentionOps(OpRegistry& registry) {
    OpSchema schema{"LinearAttention", "", inferLinearAttention, 3, 6};
    schema.requiredOutputs = 1;  // present_state is only needed by a model that decodes on
    registry.add(std::move(schema));
}

}  // namespace kiln
