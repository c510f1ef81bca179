// FlexAttention (ai.onnx.preview, version 1): PyTorch flex_attention's shape of attention over
// 4-D Q (B, Hq, L, E), K (B, Hkv, S, E), V (B, Hkv, S, Ev):
//   scores = scale * Q K^T;  scores = score_mod(scores);  probs = softmax(scores);
//   probs = prob_mod(probs);  Y = probs V
// with grouped-query heads (query head h reads KV head h / (Hq / Hkv)). score_mod and prob_mod are
// optional subgraphs from one (B, Hq, L, S) tensor to another of the same shape and type, the
// softmax precision (softmax_precision: an ONNX element type; float, or double for double
// inputs, by default). Like If's branches they may read outer values: the node lists those as
// its trailing inputs and each modifier as its trailing inputs after the score tensor
// (ir/control_flow.h).

#include "ir/control_flow.h"
#include "ir/onnx_types.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

bool isFlexType(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16 || type == DataType::kDOUBLE;
}

/// Merges `b` into `a` where the op requires the dims to be equal; false when two known extents differ.
bool mergeInto(Dim& a, const Dim& b) {
    std::optional<Dim> merged = shapeinfer::mergeEqualDims(a, b);
    if (merged) a = *merged;
    return merged.has_value();
}

Status inferFlexAttention(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> captures, capturedInputInfos(ctx));
    if (ctx.numInputs() - captures.size() != 3) return ctx.error("FlexAttention takes exactly three inputs, Q, K and V");
    const DataType type = ctx.inputType(0);
    if (!isFlexType(type)) return ctx.error(std::string("Q must be float, float16, bfloat16 or double, got ") + dataTypeName(type));
    static const char* kNames[] = {"Q", "K", "V"};
    for (size_t i = 0; i < 3; ++i) {
        if (ctx.inputRank(i) != 4) return ctx.error(std::string(kNames[i]) + " must have rank 4, got rank " + std::to_string(ctx.inputRank(i)));
        if (ctx.inputType(i) != type)
            return ctx.error(std::string(kNames[i]) + " is " + dataTypeName(ctx.inputType(i)) + " but Q is " + dataTypeName(type));
    }
    const SymShape& q = ctx.inputShape(0);
    const SymShape& k = ctx.inputShape(1);
    const SymShape& v = ctx.inputShape(2);
    const std::string shapes = ": Q " + symShapeToString(q) + ", K " + symShapeToString(k) + ", V " + symShapeToString(v);
    Dim batch = q[0], kvHeads = k[1], keys = k[2], headSize = q[3];
    if (!mergeInto(batch, k[0]) || !mergeInto(batch, v[0])) return ctx.error("the batch sizes differ" + shapes);
    if (!mergeInto(kvHeads, v[1])) return ctx.error("K and V have different head counts" + shapes);
    if (!mergeInto(keys, v[2])) return ctx.error("K and V have different sequence lengths" + shapes);
    if (!mergeInto(headSize, k[3])) return ctx.error("Q and K have different head sizes" + shapes);
    if (q[1].isKnown() && kvHeads.isKnown() && (kvHeads.value == 0 || q[1].value % kvHeads.value != 0))
        return ctx.error("Q's head count must be a multiple of K's and V's" + shapes);

    DataType precision = type == DataType::kDOUBLE ? DataType::kDOUBLE : DataType::kFLOAT;
    if (std::optional<int64_t> code = ctx.attrs().getInt("softmax_precision")) {
        std::optional<DataType> named = dataTypeFromOnnx(*code);
        if (!named || !isFlexType(*named))
            return ctx.error("softmax_precision " + std::to_string(*code) + " is not float, float16, bfloat16 or double");
        precision = *named;
    }
    const SymShape scores{batch, q[1], q[2], keys};
    for (const char* attr : {"score_mod", "prob_mod"}) {
        if (!ctx.attrs().has(attr)) continue;
        std::vector<ValueInfo> inputs{ValueInfo{precision, scores, true, std::nullopt}};
        inputs.insert(inputs.end(), captures.begin(), captures.end());
        KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> outputs, inferSubgraph(ctx, attr, inputs));
        const std::string expected = std::string(dataTypeName(precision)) + " " + symShapeToString(scores);
        if (outputs.size() != 1) return ctx.error(std::string(attr) + " must have one output, the modified " + expected);
        SymShape merged = scores;
        bool fits = outputs[0].dtype == precision && outputs[0].shape.size() == 4;
        for (size_t i = 0; fits && i < 4; ++i) fits = mergeInto(merged[i], outputs[0].shape[i]);
        if (!fits)
            return ctx.error(std::string(attr) + " returns " + dataTypeName(outputs[0].dtype) + " " +
                             symShapeToString(outputs[0].shape) + "; it must keep its input's type and shape, " + expected);
    }
    ctx.setOutput(0, type, {batch, q[1], q[2], v[3]});
    return Status::ok();
}

}  // namespace

void registerFlexAttentionOps(OpRegistry& registry) {
    registry.add({"FlexAttention", "ai.onnx.preview", inferFlexAttention, 3, SIZE_MAX});
}

}  // namespace kiln
