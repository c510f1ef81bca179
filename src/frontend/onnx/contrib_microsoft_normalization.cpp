// com.microsoft's fused normalizations, as standard ops:
//   SkipLayerNormalization            LayerNormalization(input + skip [+ bias])
//   SkipSimplifiedLayerNormalization  RMSNormalization(input + skip [+ bias])
//   SimplifiedLayerNormalization      RMSNormalization (ONNX Runtime's name, in the default domain)
//   EmbedLayerNormalization           LayerNormalization of word + position [+ segment] embeddings,
//                                     with the mask's per-row count of ones as mask_index
// Defaults are ONNX Runtime's: epsilon 1e-12 for the Skip and Embed forms, 1e-5 for
// SimplifiedLayerNormalization. The sums' outputs (input_skip_bias_sum, embedding_sum) are the Add
// nodes' own outputs. The training outputs (mean, inv_std_var) come from LayerNormalization's Mean and
// InvStdDev; RMSNormalization has none, so the simplified forms refuse them.

#include <string>

#include "frontend/onnx/contrib_expansion.h"
#include "ir/onnx_types.h"

namespace kiln::onnx_import::contrib {

namespace {

constexpr float kSkipAndEmbedEpsilon = 1e-12f;  // ONNX Runtime's kDefaultSkipLayerNormEpsilon / ...EmbedLayerNorm...
constexpr float kSimplifiedEpsilon = 1e-5f;

AttributeMap lastAxisNormalization(float epsilon) {
    AttributeMap attrs;
    attrs.set("axis", int64_t{-1});
    attrs.set("epsilon", epsilon);
    return attrs;
}

Status refuseStatistics(const ExpansionContext& ctx, std::initializer_list<size_t> outputs, const char* op) {
    for (size_t i : outputs)
        if (ctx.wantsOutput(i))
            return ExpansionContext::unsupportedForm(std::string(op) + "'s output " + std::to_string(i) + " '" +
                                                     ctx.outputName(i) + "' (a training statistic)");
    return Status::ok();
}

/// input + skip (+ bias), as the expanded node's output `sumOutput` when the model names it.
Value* skipSum(ExpansionContext& ctx, size_t biasInput, int sumOutput) {
    Value* bias = ctx.input(biasInput);
    if (!bias) return ctx.addProducing("Add", {ctx.input(0), ctx.input(1)}, sumOutput);
    return ctx.addProducing("Add", {ctx.add("Add", {ctx.input(0), ctx.input(1)}), bias}, sumOutput);
}

}  // namespace

Status expandSkipLayerNormalization(ExpansionContext& ctx) {
    Value* sum = skipSum(ctx, 4, 3);
    std::vector<Value*> inputs = {sum, ctx.input(2)};
    if (ctx.input(3)) inputs.push_back(ctx.input(3));  // beta
    ctx.addProducing("LayerNormalization", inputs, lastAxisNormalization(ctx.attrs().getFloat("epsilon", kSkipAndEmbedEpsilon)),
                     {0, 1, 2});
    return Status::ok();
}

Status expandSkipSimplifiedLayerNormalization(ExpansionContext& ctx) {
    KILN_RETURN_IF_ERROR(refuseStatistics(ctx, {1, 2}, "SkipSimplifiedLayerNormalization"));
    Value* sum = skipSum(ctx, 3, 3);
    ctx.addProducing("RMSNormalization", {sum, ctx.input(2)}, 0,
                     lastAxisNormalization(ctx.attrs().getFloat("epsilon", kSkipAndEmbedEpsilon)));
    return Status::ok();
}

Status expandSimplifiedLayerNormalization(ExpansionContext& ctx) {
    KILN_RETURN_IF_ERROR(refuseStatistics(ctx, {1}, "SimplifiedLayerNormalization"));
    AttributeMap attrs = lastAxisNormalization(ctx.attrs().getFloat("epsilon", kSimplifiedEpsilon));
    attrs.set("axis", ctx.attrs().getInt("axis", -1));
    attrs.set("stash_type", ctx.attrs().getInt("stash_type", 1));
    ctx.addProducing("RMSNormalization", {ctx.input(0), ctx.input(1)}, 0, attrs);
    return Status::ok();
}

Status expandEmbedLayerNormalization(ExpansionContext& ctx) {
    Value* ids = ctx.input(0);
    Value* segmentIds = ctx.input(1);
    Value* segmentTable = ctx.input(4);
    Value* mask = ctx.input(7);
    Value* positionIds = ctx.input(8);
    if (!ctx.input(2) || !ctx.input(3) || !ctx.input(5) || !ctx.input(6))
        return invalidModel("word_embedding, position_embedding, gamma and beta (inputs 2, 3, 5, 6) are required");
    if (static_cast<bool>(segmentIds) != static_cast<bool>(segmentTable))
        return invalidModel("segment_ids and segment_embedding (inputs 1 and 4) come together or not at all");

    Value* words = ctx.add("Gather", {ctx.input(2), ids});
    // Without position_ids, 0 .. S-1 for every row: [S, hidden] positions, broadcast over the batch.
    if (!positionIds) positionIds = ctx.positions(ids, 1);
    const bool segments = segmentIds != nullptr;
    Value* sum = ctx.addProducing("Add", {words, ctx.add("Gather", {ctx.input(3), positionIds})}, segments ? -1 : 2);
    if (segments) sum = ctx.addProducing("Add", {sum, ctx.add("Gather", {segmentTable, segmentIds})}, 2);
    ctx.addProducing("LayerNormalization", {sum, ctx.input(5), ctx.input(6)},
                     lastAxisNormalization(ctx.attrs().getFloat("epsilon", kSkipAndEmbedEpsilon)), {0, -1, -1});

    if (ctx.wantsOutput(1)) {
        // ONNX Runtime's mask_index: each row's count of mask elements equal to 1 (int32); all zeros
        // without a mask.
        AttributeMap toInt32;
        toInt32.set("to", dataTypeToOnnx(DataType::kINT32));
        AttributeMap rowSum;
        rowSum.set("keepdims", int64_t{0});
        if (mask) {
            Value* ones = ctx.add("Cast", {ctx.add("Equal", {mask, ctx.add("CastLike", {ctx.int64s({1}), mask})})}, toInt32);
            ctx.addProducing("ReduceSum", {ones, ctx.int64s({1})}, 1, rowSum);
        } else {
            AttributeMap zeroInt32;
            zeroInt32.set("value", Tensor::allocate(DataType::kINT32, {1}));
            ctx.addProducing("ConstantOfShape", {ctx.extent(ids, 0)}, 1, zeroInt32);
        }
    }
    return Status::ok();
}

}  // namespace kiln::onnx_import::contrib
