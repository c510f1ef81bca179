// com.microsoft's Attention (what ONNX Runtime's BERT optimizer writes) as standard ops: the packed
// Q/K/V projection as MatMul (+ bias), Split into Q, K and V, and ONNX's Attention on the 3-D
// [batch, sequence, hidden] forms with num_heads heads (contrib_attention.h). MultiHeadAttention, its
// Q, K and V given (3-D, or packed), below.
//
// mask_index forms: [batch] (right padding: keys at or past each row's length are masked),
// [batch, total_sequence] and [batch, sequence, total_sequence] (raw 0/1 masks). Refused with the
// reason: past / present state (incremental decoding), the [2 * batch] and 4-D mask forms,
// do_rotary and past_present_share_buffer.

#include <string>

#include "frontend/onnx/contrib_attention.h"
#include "frontend/onnx/contrib_expansion.h"

namespace kiln::onnx_import::contrib {

namespace {

constexpr size_t kInput = 0, kWeights = 1, kBias = 2, kMaskIndex = 3, kPast = 4, kAttentionBias = 5, kPastLength = 6;

/// The widths of Q, K and V: qkv_hidden_sizes, or the weights' columns in three equal parts.
Expected<std::vector<int64_t>> projectionWidths(ExpansionContext& ctx) {
    if (auto sizes = ctx.attrs().getInts("qkv_hidden_sizes")) {
        if (sizes->size() != 3) return invalidModel("qkv_hidden_sizes must have 3 values, got " + std::to_string(sizes->size()));
        if ((*sizes)[0] != (*sizes)[1]) return invalidModel("qkv_hidden_sizes must give Q and K the same width");
        return *sizes;
    }
    const ValueInfo* weights = ctx.info(ctx.input(kWeights));
    if (!weights || weights->shape.size() != 2 || !weights->shape[1].isKnown())
        return invalidModel("the weights' width must be known (or qkv_hidden_sizes given) to split Q, K and V");
    const int64_t columns = weights->shape[1].value;
    if (columns % 3 != 0) return invalidModel("the weights' " + std::to_string(columns) + " columns do not split into Q, K and V");
    return std::vector<int64_t>{columns / 3, columns / 3, columns / 3};
}

}  // namespace

Status expandAttention(ExpansionContext& ctx) {
    if (ctx.input(kPast) || ctx.input(kPastLength) || ctx.wantsOutput(1))
        return ExpansionContext::unsupportedForm("Attention with past / present state (incremental decoding)");
    if (ctx.attrs().getInt("do_rotary", 0) != 0) return ExpansionContext::unsupportedForm("Attention with do_rotary");
    if (ctx.attrs().getInt("past_present_share_buffer", 0) != 0)
        return ExpansionContext::unsupportedForm("Attention with past_present_share_buffer");
    const int64_t heads = ctx.attrs().getInt("num_heads", 0);
    if (heads <= 0) return invalidModel("attribute num_heads (> 0) is required");
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> widths, projectionWidths(ctx));
    for (int64_t width : {widths[0], widths[2]})
        if (width % heads != 0)
            return invalidModel("hidden width " + std::to_string(width) + " does not split into " + std::to_string(heads) + " heads");

    Value* x = ctx.input(kInput);
    Value* qkv = ctx.add("MatMul", {x, ctx.input(kWeights)});
    if (ctx.input(kBias)) qkv = ctx.add("Add", {qkv, ctx.input(kBias)});
    AttributeMap lastAxis;
    lastAxis.set("axis", int64_t{-1});
    std::vector<Value*> parts = ctx.addProducing("Split", {qkv, ctx.int64s(widths)}, lastAxis, {-1, -1, -1});

    return emitAttention(ctx, parts[0], parts[1], parts[2], heads, ctx.input(kMaskIndex), "mask_index",
                         ctx.input(kAttentionBias));
}

}  // namespace kiln::onnx_import::contrib

namespace kiln::onnx_import::contrib {

namespace {

constexpr size_t kQuery = 0, kKey = 1, kValue = 2, kQkvBias = 3, kKeyPaddingMask = 4, kMhaAttentionBias = 5;

/// Part `index` of a packed [batch, sequence, heads, parts, head size] tensor, as [batch, sequence, hidden].
Value* unpackPart(ExpansionContext& ctx, Value* packed, int64_t index) {
    Value* part = ctx.add("Slice", {packed, ctx.int64s({index}), ctx.int64s({index + 1}), ctx.int64s({3})});
    return ctx.add("Reshape", {part, ctx.int64s({0, 0, -1})});
}

Expected<int64_t> lastExtent(ExpansionContext& ctx, Value* value, const char* what) {
    const ValueInfo* info = ctx.info(value);
    if (!info || info->shape.empty() || !info->shape.back().isKnown())
        return invalidModel(std::string("the hidden width of ") + what + " must be known to split the bias");
    return info->shape.back().value;
}

}  // namespace

Status expandMultiHeadAttention(ExpansionContext& ctx) {
    for (size_t past = 6; past <= 9; ++past)
        if (ctx.input(past)) return ExpansionContext::unsupportedForm("MultiHeadAttention with past state or a cache indirection");
    if (ctx.wantsOutput(1) || ctx.wantsOutput(2) || ctx.wantsOutput(3))
        return ExpansionContext::unsupportedForm("MultiHeadAttention's present_key, present_value or qk output");
    const int64_t heads = ctx.attrs().getInt("num_heads", 0);
    if (heads <= 0) return invalidModel("attribute num_heads (> 0) is required");
    const ValueInfo* queryInfo = ctx.info(ctx.input(kQuery));
    const ValueInfo* keyInfo = ctx.info(ctx.input(kKey));
    if (!queryInfo) return invalidModel("the query's rank must be known");
    const size_t queryRank = queryInfo->shape.size(), keyRank = keyInfo ? keyInfo->shape.size() : 0;

    Value *q = ctx.input(kQuery), *k = ctx.input(kKey), *v = ctx.input(kValue);
    if (queryRank == 5 && !k && !v) {  // packed Q, K, V: [batch, sequence, heads, 3, head size]
        k = unpackPart(ctx, q, 1);
        v = unpackPart(ctx, q, 2);
        q = unpackPart(ctx, q, 0);
    } else if (queryRank == 3 && keyRank == 5 && !v) {  // packed K, V: [batch, keys, heads, 2, head size]
        v = unpackPart(ctx, k, 1);
        k = unpackPart(ctx, k, 0);
    } else if (queryRank != 3 || keyRank != 3 || !v || ctx.info(v)->shape.size() != 3) {
        return ExpansionContext::unsupportedForm(
            "MultiHeadAttention with these input forms (3-D query, key and value; packed QKV; or packed KV are)");
    }
    if (Value* bias = ctx.input(kQkvBias)) {
        if (queryRank == 5 || keyRank == 5) return ExpansionContext::unsupportedForm("MultiHeadAttention's bias with packed inputs");
        KILN_ASSIGN_OR_RETURN(const int64_t width, lastExtent(ctx, q, "the query"));
        KILN_ASSIGN_OR_RETURN(const int64_t valueWidth, lastExtent(ctx, v, "the value"));
        AttributeMap axis0;
        axis0.set("axis", int64_t{0});
        std::vector<Value*> parts =
            ctx.addProducing("Split", {bias, ctx.int64s({width, width, valueWidth})}, axis0, {-1, -1, -1});
        q = ctx.add("Add", {q, parts[0]});
        k = ctx.add("Add", {k, parts[1]});
        v = ctx.add("Add", {v, parts[2]});
    }

    return emitAttention(ctx, q, k, v, heads, ctx.input(kKeyPaddingMask), "key_padding_mask", ctx.input(kMhaAttentionBias));
}

}  // namespace kiln::onnx_import::contrib
