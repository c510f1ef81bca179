// com.microsoft's Attention (what ONNX Runtime's BERT optimizer writes) as standard ops: the packed
// Q/K/V projection as MatMul (+ bias), Split into Q, K and V, and ONNX's Attention on the 3-D
// [batch, sequence, hidden] forms with num_heads heads. The mask becomes Attention's additive
// float mask with ONNX Runtime's values: 0 where a key is kept and mask_filter_value (-10000 by
// default, not -inf) where it is masked, added up where several masks apply (padding, the causal
// triangle of `unidirectional`, attention_bias), so rows whose keys are all masked match too.
//
// mask_index forms: [batch] (right padding: keys at or past each row's length are masked),
// [batch, total_sequence] and [batch, sequence, total_sequence] (raw 0/1 masks). Refused with the
// reason: past / present state (incremental decoding), the [2 * batch] and 4-D mask forms,
// do_rotary and past_present_share_buffer.

#include <string>

#include "frontend/onnx/contrib_expansion.h"
#include "ir/onnx_types.h"

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

/// Where `keep` is true 0, else mask_filter_value, in `like`'s element type.
Value* additiveMask(ExpansionContext& ctx, Value* keep, Value* like, float filter) {
    return ctx.add("Where", {keep, ctx.scalar(0.0f, like), ctx.scalar(filter, like)});
}

Value* unsqueeze(ExpansionContext& ctx, Value* value, const std::vector<int64_t>& axes) {
    return ctx.add("Unsqueeze", {value, ctx.int64s(axes)});
}

/// The padding mask from mask_index, broadcastable to [batch, heads, sequence, total_sequence].
Expected<Value*> paddingMask(ExpansionContext& ctx, Value* maskIndex, Value* like, float filter) {
    const ValueInfo* info = ctx.info(maskIndex);
    if (!info) return invalidModel("mask_index's rank must be known");
    const ValueInfo* input = ctx.info(ctx.input(kInput));
    AttributeMap toBool;
    toBool.set("to", dataTypeToOnnx(DataType::kBOOL));  // nonzero keeps the key
    switch (info->shape.size()) {
        case 1: {
            // Right padding: key j of row b is kept while j < mask_index[b].
            if (input && !input->shape.empty() && input->shape[0].isKnown() && info->shape[0].isKnown() &&
                info->shape[0].value == 2 * input->shape[0].value && input->shape[0].value != 0)
                return ExpansionContext::unsupportedForm("mask_index of shape [2 * batch] (end and start positions)");
            Value* keys = ctx.positions(ctx.input(kInput), 1);
            AttributeMap toInt64;
            toInt64.set("to", dataTypeToOnnx(DataType::kINT64));
            Value* lengths = unsqueeze(ctx, ctx.add("Cast", {maskIndex}, toInt64), {1});
            return unsqueeze(ctx, additiveMask(ctx, ctx.add("Less", {keys, lengths}), like, filter), {1, 2});
        }
        case 2: return unsqueeze(ctx, additiveMask(ctx, ctx.add("Cast", {maskIndex}, toBool), like, filter), {1, 2});
        case 3: return unsqueeze(ctx, additiveMask(ctx, ctx.add("Cast", {maskIndex}, toBool), like, filter), {1});
        default:
            return ExpansionContext::unsupportedForm("mask_index of rank " + std::to_string(info->shape.size()));
    }
}

/// mask_filter_value above the diagonal of a [sequence, sequence] matrix, 0 on and below it.
Value* causalMask(ExpansionContext& ctx, Value* like, float filter) {
    Value* length = ctx.extent(ctx.input(kInput), 1);
    Value* square = ctx.add("Concat", {length, length}, [] {
        AttributeMap a;
        a.set("axis", int64_t{0});
        return a;
    }());
    AttributeMap filled;
    Tensor value = Tensor::allocate(DataType::kFLOAT, {1});
    *value.data<float>() = filter;
    filled.set("value", value);
    Value* full = ctx.add("CastLike", {ctx.add("ConstantOfShape", {square}, filled), like});
    AttributeMap upper;
    upper.set("upper", int64_t{1});
    return ctx.add("Trilu", {full, ctx.int64s({1})}, upper);
}

Value* sum(ExpansionContext& ctx, Value* a, Value* b) {
    if (!a) return b;
    if (!b) return a;
    return ctx.add("Add", {a, b});
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

    const float filter = ctx.attrs().getFloat("mask_filter_value", -10000.0f);
    Value* mask = nullptr;
    if (ctx.input(kMaskIndex)) {
        KILN_ASSIGN_OR_RETURN(mask, paddingMask(ctx, ctx.input(kMaskIndex), x, filter));
    }
    if (ctx.attrs().getInt("unidirectional", 0) != 0) mask = sum(ctx, mask, causalMask(ctx, x, filter));
    mask = sum(ctx, mask, ctx.input(kAttentionBias));

    AttributeMap attrs;
    attrs.set("q_num_heads", heads);
    attrs.set("kv_num_heads", heads);
    if (auto scale = ctx.attrs().getFloat("scale")) attrs.set("scale", *scale);
    std::vector<Value*> inputs = {parts[0], parts[1], parts[2]};
    if (mask) inputs.push_back(mask);
    ctx.addProducing("Attention", inputs, 0, attrs);
    return Status::ok();
}

}  // namespace kiln::onnx_import::contrib
