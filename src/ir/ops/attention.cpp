// Attention (ONNX opset 23-25): softmax(scale * Q K^T + bias) V, with multi-head, grouped-query and
// multi-query head counts, 4-D [batch, heads, seq, head_size] or 3-D [batch, seq, heads*head_size]
// layouts, a KV cache (past_key/past_value in, present_key/present_value out: past and new keys
// concatenated along the sequence), nonpad_kv_seqlen for an external cache, and the debug output
// qk_matmul_output [batch, q_heads, q_seq, total_kv]. The builder's attention fusion produces it
// from MatMul -> scale -> mask -> Softmax -> MatMul chains; with Kiln's kiln_qkv_views
// (ir/ops/attention_views.h) Q, K and V are read by strides from their inputs.

#include <array>

#include "ir/op_registry.h"
#include "ir/ops/attention_views.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

constexpr size_t kMask = 3, kPastKey = 4, kPastValue = 5, kNonpad = 6;

bool isAttentionFloat(DataType t) {
    return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16 || t == DataType::kDOUBLE;
}

/// Two dims the op requires to be equal: false only when both are known and differ.
bool compatible(const Dim& a, const Dim& b) {
    return !a.isKnown() || !b.isKnown() || a.value == b.value;
}

std::string dimText(const Dim& d) {
    return d.toString();
}

/// The per-head view [batch, heads, seq, head_size] of Q, K or V, whichever layout it has.
struct HeadDims {
    Dim batch, heads, seq, headSize;
};

Expected<HeadDims> headDims(const InferenceContext& ctx, size_t input, const char* name, int64_t numHeads) {
    const SymShape& s = ctx.inputShape(input);
    if (s.size() == 4) return HeadDims{s[0], s[1], s[2], s[3]};
    const Dim& hidden = s[2];
    if (hidden.isKnown() && hidden.value % numHeads != 0)
        return ctx.error(std::string(name) + "'s hidden size " + std::to_string(hidden.value) +
                         " is not a multiple of its head count " + std::to_string(numHeads));
    return HeadDims{s[0], Dim(numHeads), s[1], hidden.isKnown() ? Dim(hidden.value / numHeads) : Dim::unknown()};
}

Status checkAttributes(const InferenceContext& ctx) {
    const AttributeMap& a = ctx.attrs();
    if (a.getFloat("softcap", 0.f) < 0.f) return ctx.error("softcap must be >= 0");
    if (a.getInt("left_window_size", -1) < -1 || a.getInt("right_window_size", -1) < -1)
        return ctx.error("left_window_size and right_window_size must be -1 (unbounded) or >= 0");
    const int64_t mode = a.getInt("qk_matmul_output_mode", 0);
    if (mode < 0 || mode > 3)
        return ctx.error("qk_matmul_output_mode must be 0, 1, 2 or 3, got " + std::to_string(mode));
    if (a.has("softmax_precision")) {
        // ONNX TensorProto codes: FLOAT, FLOAT16, DOUBLE, BFLOAT16.
        const int64_t p = a.getInt("softmax_precision", 1);
        if (p != 1 && p != 10 && p != 11 && p != 16)
            return ctx.error("softmax_precision must be 1 (float), 10 (float16), 11 (double) or 16 (bfloat16), got " +
                             std::to_string(p));
    }
    return Status::ok();
}

Status checkTypes(const InferenceContext& ctx) {
    const DataType t1 = ctx.inputType(0), t2 = ctx.inputType(2);
    if (!isAttentionFloat(t1) || !isAttentionFloat(t2)) return ctx.error("Q, K and V must be floating-point");
    if (ctx.inputType(1) != t1) return ctx.error("K must have Q's element type");
    if (ctx.hasInput(kPastKey) && ctx.inputType(kPastKey) != t1)
        return ctx.error("past_key must have Q's element type");
    if (ctx.hasInput(kPastValue) && ctx.inputType(kPastValue) != t2)
        return ctx.error("past_value must have V's element type");
    if (ctx.hasInput(kMask) && ctx.inputType(kMask) != DataType::kBOOL && !isAttentionFloat(ctx.inputType(kMask)))
        return ctx.error("attn_mask must be bool (true: attend) or floating-point (added to the scores)");
    if (ctx.hasInput(kNonpad) && (ctx.inputType(kNonpad) != DataType::kINT64 || ctx.inputRank(kNonpad) != 1))
        return ctx.error("nonpad_kv_seqlen must be a 1-D int64 tensor [batch]");
    return Status::ok();
}

/// Q, K and V read by strides: their dims are the views', each within its input where that is known.
Expected<std::array<HeadDims, 3>> viewedHeadDims(const InferenceContext& ctx, const AttentionInputViews& views) {
    std::array<HeadDims, 3> dims;
    for (size_t i = 0; i < 3; ++i) {
        const AttentionInputView& v = views.qkv[i];
        const SymShape& s = ctx.inputShape(i);
        const Dim elements = shapeinfer::dimProduct(s, 0, s.size());
        if (elements.isKnown() && v.extent() > elements.value)
            return ctx.error(std::string(kQkvViewsAttribute) + " reads input " + std::to_string(i) + " " +
                             symShapeToString(s) + " up to element " + std::to_string(v.extent()));
        dims[i] = HeadDims{Dim(v.batch), Dim(v.heads), Dim(v.seq), Dim(v.headSize)};
    }
    return dims;
}

Status inferAttention(InferenceContext& ctx) {
    const DecodedAttentionInputViews decoded = decodeAttentionInputViews(ctx.attrs());
    if (!decoded.error.empty()) return ctx.error(decoded.error);
    const auto& views = decoded.views;
    const int64_t rank = views ? views->outputRank : ctx.inputRank(0);
    if (rank != 3 && rank != 4) return ctx.error("Q must be 3-D or 4-D, got rank " + std::to_string(rank));
    if (!views && (ctx.inputRank(1) != rank || ctx.inputRank(2) != rank))
        return ctx.error("Q, K and V must have the same rank");
    KILN_RETURN_IF_ERROR(checkTypes(ctx));
    KILN_RETURN_IF_ERROR(checkAttributes(ctx));
    int64_t qHeads = 0, kvHeads = 0;
    if (rank == 3 && !views) {
        qHeads = ctx.attrs().getInt("q_num_heads", 0);
        kvHeads = ctx.attrs().getInt("kv_num_heads", 0);
        if (qHeads <= 0 || kvHeads <= 0)
            return ctx.error("3-D inputs need positive q_num_heads and kv_num_heads attributes");
    }
    HeadDims q, k, v;
    if (views) {
        KILN_ASSIGN_OR_RETURN(auto dims, viewedHeadDims(ctx, *views));
        q = dims[0];
        k = dims[1];
        v = dims[2];
        qHeads = views->qkv[0].heads;
    } else {
        KILN_ASSIGN_OR_RETURN(q, headDims(ctx, 0, "Q", qHeads));
        KILN_ASSIGN_OR_RETURN(k, headDims(ctx, 1, "K", kvHeads));
        KILN_ASSIGN_OR_RETURN(v, headDims(ctx, 2, "V", kvHeads));
    }
    if (!compatible(q.batch, k.batch) || !compatible(q.batch, v.batch))
        return ctx.error("Q, K and V batch sizes differ");
    if (!compatible(k.heads, v.heads)) return ctx.error("K and V head counts differ");
    if (!compatible(k.seq, v.seq)) return ctx.error("K and V sequence lengths differ");
    if (!compatible(q.headSize, k.headSize))
        return ctx.error("Q's head size " + dimText(q.headSize) + " differs from K's " + dimText(k.headSize));
    if (q.heads.isKnown() && k.heads.isKnown() && (k.heads.value == 0 || q.heads.value % k.heads.value != 0))
        return ctx.error("Q's head count " + dimText(q.heads) + " is not a multiple of K's " + dimText(k.heads));

    // The KV cache: past_key [batch, kv_heads, past, head_size], past_value [.., past, v_head_size].
    const bool hasPast = ctx.hasInput(kPastKey) || ctx.hasInput(kPastValue);
    if (ctx.hasInput(kPastKey) != ctx.hasInput(kPastValue)) return ctx.error("past_key and past_value go together");
    if (hasPast && ctx.hasInput(kNonpad))
        return ctx.error("nonpad_kv_seqlen (an external cache) cannot be combined with past_key/past_value");
    Dim past(0);
    if (hasPast) {
        const SymShape& pk = ctx.inputShape(kPastKey);
        const SymShape& pv = ctx.inputShape(kPastValue);
        if (pk.size() != 4 || pv.size() != 4) return ctx.error("past_key and past_value must be 4-D");
        if (!compatible(pk[0], q.batch) || !compatible(pk[1], k.heads) || !compatible(pk[3], k.headSize) ||
            !compatible(pv[0], q.batch) || !compatible(pv[1], k.heads) || !compatible(pv[2], pk[2]) ||
            !compatible(pv[3], v.headSize))
            return ctx.error("past_key " + symShapeToString(pk) + " and past_value " + symShapeToString(pv) +
                             " do not fit K and V (batch, kv_heads, past, head_size)");
        past = pk[2].isKnown() ? pk[2] : pv[2];
    }
    const Dim total = shapeinfer::dimSum({past, k.seq});

    if (ctx.hasInput(kMask)) {
        const SymShape& m = ctx.inputShape(kMask);
        if (m.empty() || m.size() > 4)
            return ctx.error("attn_mask must have rank 1 to 4, got " + std::to_string(m.size()));
        const Dim full[4] = {q.batch, q.heads, q.seq, total};
        for (size_t d = 0; d + 1 < m.size(); ++d) {
            const Dim& e = m[d];
            const Dim& f = full[4 - m.size() + d];
            if (e.isKnown() && e.value != 1 && !compatible(e, f))
                return ctx.error("attn_mask " + symShapeToString(m) +
                                 " does not broadcast to (batch, q_heads, q_seq, total_kv)");
        }
        // A shorter key axis is padded with "masked"; a longer one has no meaning.
        if (m.back().isKnown() && total.isKnown() && m.back().value > total.value)
            return ctx.error("attn_mask's key axis " + std::to_string(m.back().value) + " is longer than the " +
                             std::to_string(total.value) + " keys");
    }
    if (ctx.hasInput(kNonpad) && !compatible(ctx.inputShape(kNonpad)[0], q.batch))
        return ctx.error("nonpad_kv_seqlen must hold one length per batch entry");

    const DataType t1 = ctx.inputType(0), t2 = ctx.inputType(2);
    if (rank == 4) {
        ctx.setOutput(0, t1, {q.batch, q.heads, q.seq, v.headSize});
    } else {
        const Dim hidden = v.headSize.isKnown() ? Dim(v.headSize.value * qHeads) : Dim::unknown();
        ctx.setOutput(0, t1, {q.batch, q.seq, hidden});
    }
    if (ctx.numOutputs() > 1) ctx.setOutput(1, t1, {q.batch, k.heads, total, k.headSize});
    if (ctx.numOutputs() > 2) ctx.setOutput(2, t2, {q.batch, k.heads, total, v.headSize});
    if (ctx.numOutputs() > 3) ctx.setOutput(3, t1, {q.batch, q.heads, q.seq, total});
    return Status::ok();
}

}  // namespace

void registerAttentionOps(OpRegistry& registry) {
    // Outputs 1-3 (present_key, present_value, qk_matmul_output) are optional: unread ones are dropped.
    registry.add({"Attention", "", inferAttention, 3, 7, true, 1});
}

}  // namespace kiln
