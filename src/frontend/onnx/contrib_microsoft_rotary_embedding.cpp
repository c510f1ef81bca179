// com.microsoft's RotaryEmbedding as ONNX's RotaryEmbedding (opset 23): the same rotation, inputs in
// another order (input, position_ids, cos_cache, sin_cache). Its position_ids may also be one number,
// the first position of every row: then the positions are that number + 0 .. S-1 for every row.
// Packed (ragged) batches and a scale other than 1 are refused.

#include <string>

#include "frontend/onnx/contrib_expansion.h"

namespace kiln::onnx_import::contrib {

Status expandRotaryEmbedding(ExpansionContext& ctx) {
    if (ctx.attrs().getInt("is_packed_batching", 0) != 0)
        return ExpansionContext::unsupportedForm("RotaryEmbedding with is_packed_batching");
    if (ctx.attrs().getFloat("scale", 1.0f) != 1.0f) return ExpansionContext::unsupportedForm("RotaryEmbedding with a scale other than 1");
    Value* x = ctx.input(0);
    Value* positions = ctx.input(1);
    const ValueInfo* xInfo = ctx.info(x);
    const ValueInfo* positionInfo = ctx.info(positions);
    if (!xInfo || !positionInfo) return invalidModel("the ranks of input and position_ids must be known");
    if (positionInfo->shape.size() == 1) {
        // [batch, sequence] positions from the offset: the sequence axis is 1 of [B, S, hidden], 2 of [B, N, S, H].
        const int64_t sequenceAxis = xInfo->shape.size() == 4 ? 2 : 1;
        Value* row = ctx.add("Add", {ctx.positions(x, sequenceAxis), positions});
        AttributeMap axis0;
        axis0.set("axis", int64_t{0});
        Value* shape = ctx.add("Concat", {ctx.extent(x, 0), ctx.extent(x, sequenceAxis)}, axis0);
        positions = ctx.add("Expand", {ctx.add("Unsqueeze", {row, ctx.int64s({0})}), shape});
    }
    AttributeMap attrs;
    attrs.set("interleaved", ctx.attrs().getInt("interleaved", 0));
    if (int64_t heads = ctx.attrs().getInt("num_heads", 0)) attrs.set("num_heads", heads);
    if (int64_t dim = ctx.attrs().getInt("rotary_embedding_dim", 0)) attrs.set("rotary_embedding_dim", dim);
    ctx.addProducing("RotaryEmbedding", {x, ctx.input(2), ctx.input(3), positions}, 0, attrs);
    return Status::ok();
}

}  // namespace kiln::onnx_import::contrib
