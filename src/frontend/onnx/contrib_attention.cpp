#include "frontend/onnx/contrib_attention.h"

#include <string>

#include "ir/onnx_types.h"

namespace kiln::onnx_import::contrib {

namespace {

struct AttentionMaskSource {
    Value* queries;  // [batch, sequence, ...]: the mask's element type and query count
    Value* keys;     // [batch, key sequence, ...]
    float filter;    // mask_filter_value
};

/// Where `keep` is true 0, else mask_filter_value, in the queries' element type.
Value* additiveMask(ExpansionContext& ctx, Value* keep, const AttentionMaskSource& source) {
    return ctx.add("Where", {keep, ctx.scalar(0.0f, source.queries), ctx.scalar(source.filter, source.queries)});
}

Value* unsqueeze(ExpansionContext& ctx, Value* value, const std::vector<int64_t>& axes) {
    return ctx.add("Unsqueeze", {value, ctx.int64s(axes)});
}

AttributeMap castTo(DataType type) {
    AttributeMap attrs;
    attrs.set("to", dataTypeToOnnx(type));
    return attrs;
}

/// A key padding mask, broadcastable to [batch, heads, sequence, keys]: [batch] lengths (right
/// padding: key j of row b kept while j < length[b]), or a [batch, keys] or [batch, sequence, keys]
/// 0/1 mask (nonzero keeps). `what` names the input in errors.
Expected<Value*> paddingMask(ExpansionContext& ctx, Value* mask, const AttentionMaskSource& source, const char* what) {
    const ValueInfo* info = ctx.info(mask);
    if (!info) return invalidModel(std::string(what) + "'s rank must be known");
    const ValueInfo* queries = ctx.info(source.queries);
    switch (info->shape.size()) {
        case 1: {
            // ONNX Runtime also reads [2 * batch] (end and start positions) and [3 * batch + 2]: refused
            // where the shapes say so.
            if (queries && !queries->shape.empty() && queries->shape[0].isKnown() && info->shape[0].isKnown() &&
                queries->shape[0].value != 0 && info->shape[0].value != queries->shape[0].value)
                return ExpansionContext::unsupportedForm(std::string(what) + " of " + std::to_string(info->shape[0].value) +
                                                         " elements for a batch of " +
                                                         std::to_string(queries->shape[0].value));
            Value* keys = ctx.positions(source.keys, 1);
            Value* lengths = unsqueeze(ctx, ctx.add("Cast", {mask}, castTo(DataType::kINT64)), {1});
            return unsqueeze(ctx, additiveMask(ctx, ctx.add("Less", {keys, lengths}), source), {1, 2});
        }
        case 2: return unsqueeze(ctx, additiveMask(ctx, ctx.add("Cast", {mask}, castTo(DataType::kBOOL)), source), {1, 2});
        case 3: return unsqueeze(ctx, additiveMask(ctx, ctx.add("Cast", {mask}, castTo(DataType::kBOOL)), source), {1});
        default: return ExpansionContext::unsupportedForm(std::string(what) + " of rank " + std::to_string(info->shape.size()));
    }
}

/// mask_filter_value above the diagonal of a [sequence, keys] matrix, 0 on and below it.
Value* causalMask(ExpansionContext& ctx, const AttentionMaskSource& source) {
    AttributeMap axis0;
    axis0.set("axis", int64_t{0});
    Value* extent = ctx.add("Concat", {ctx.extent(source.queries, 1), ctx.extent(source.keys, 1)}, axis0);
    AttributeMap filled;
    Tensor value = Tensor::allocate(DataType::kFLOAT, {1});
    *value.data<float>() = source.filter;
    filled.set("value", value);
    Value* full = ctx.add("CastLike", {ctx.add("ConstantOfShape", {extent}, filled), source.queries});
    AttributeMap upper;
    upper.set("upper", int64_t{1});
    return ctx.add("Trilu", {full, ctx.int64s({1})}, upper);
}

}  // namespace

Status emitAttention(ExpansionContext& ctx, Value* q, Value* k, Value* v, int64_t heads, Value* padding,
                     const char* paddingName, Value* attentionBias) {
    auto sum = [&](Value* a, Value* b) { return !a ? b : !b ? a : ctx.add("Add", {a, b}); };
    const AttentionMaskSource source{q, k, ctx.attrs().getFloat("mask_filter_value", -10000.0f)};
    Value* mask = nullptr;
    if (padding) {
        KILN_ASSIGN_OR_RETURN(mask, paddingMask(ctx, padding, source, paddingName));
    }
    if (ctx.attrs().getInt("unidirectional", 0) != 0) mask = sum(mask, causalMask(ctx, source));
    mask = sum(mask, attentionBias);

    AttributeMap attrs;
    attrs.set("q_num_heads", heads);
    attrs.set("kv_num_heads", heads);
    if (auto scale = ctx.attrs().getFloat("scale")) attrs.set("scale", *scale);
    std::vector<Value*> inputs = {q, k, v};
    if (mask) inputs.push_back(mask);
    ctx.addProducing("Attention", inputs, 0, attrs);
    return Status::ok();
}

}  // namespace kiln::onnx_import::contrib
