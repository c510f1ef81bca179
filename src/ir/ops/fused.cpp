// Kiln's fused layers (domain "kiln"), made by the builder's fusion passes, never imported:
//   FusedConv(X, W, B?, Z?)        = act(Conv(X, W, B) + Z)          attrs: Conv's + activation*
//   FusedMatMul(A, B, bias?, Z?)   = act(MatMul(A, B) + bias + Z)    bias broadcast over the last dim
// The residual Z has the output's shape and type exactly (no broadcast): a GEMM reads it as its C operand.
// `activation` is an ONNX activation op type ("Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh",
// "HardSigmoid", "HardSwish", "Gelu") or absent; `activation_params` holds its parameters
// (Clip: min, max; LeakyRelu: alpha; HardSigmoid: alpha, beta).
//   FusedPointwise(X...)      = a program of elementwise ops over the broadcast inputs
//                               (src/ir/pointwise_program.h)
// FusedConv with kiln_channels_last = 1 has NHWC tensors (ir/ops/layout_attributes.h): it is inferred
// as Conv on the NCHW view of its inputs, and its output permuted back; with kiln_input_channels_first = 1
// its X is NCHW already, and may be float under float16 / bfloat16 weights.

#include "ir/op_registry.h"
#include "ir/ops/channels_last_perm.h"
#include "ir/ops/elementwise_inference.h"
#include "ir/ops/layout_attributes.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"
#include "ir/pointwise_program.h"

namespace kiln {

namespace {

/// Infers as the base op would (attributes the base op does not know are ignored), then checks
/// the extra input's shape against the output.
InferFunction inferAs(const std::string& baseOp, size_t extraInput) {
    return [baseOp, extraInput](InferenceContext& ctx) -> Status {
        const OpSchema* base = OpRegistry::global().find("", baseOp);
        if (!base) return ctx.error("no schema for " + baseOp);
        KILN_RETURN_IF_ERROR(base->infer(ctx));
        if (ctx.hasInput(extraInput) && baseOp == "Conv") {
            const SymShape& out = ctx.outputs()[0].shape;
            const SymShape& z = ctx.inputShape(extraInput);
            if (z.size() != out.size()) return ctx.error("residual input rank differs from the output's");
            for (size_t i = 0; i < z.size(); ++i)
                if (z[i].isKnown() && out[i].isKnown() && z[i].value != out[i].value)
                    return ctx.error("residual input " + symShapeToString(z) + " differs from the output " +
                                     symShapeToString(out));
        }
        return Status::ok();
    };
}

/// FusedConv: NCHW as Conv; channels-last through the NCHW view of X, W and the residual Z (X is already
/// NCHW with kInputChannelsFirstAttribute).
Status inferFusedConv(InferenceContext& ctx) {
    static const InferFunction nchw = inferAs("Conv", 3);
    const int64_t channelsLast = ctx.attrs().getInt(kChannelsLastAttribute, 0);
    const int64_t inputChannelsFirst = ctx.attrs().getInt(kInputChannelsFirstAttribute, 0);
    if (inputChannelsFirst != 0 && (inputChannelsFirst != 1 || channelsLast != 1))
        return ctx.error(std::string(kInputChannelsFirstAttribute) + " = " + std::to_string(inputChannelsFirst) +
                         ": only 1, and only with " + kChannelsLastAttribute + " = 1");
    if (channelsLast == 0) return nchw(ctx);
    const bool xIsNchw = inputChannelsFirst == 1;
    for (size_t i : {size_t{0}, size_t{1}, size_t{3}})
        if (ctx.hasInput(i) && ctx.inputRank(i) != 4)
            return ctx.error(std::string("channels-last (") + kChannelsLastAttribute + " = 1) takes rank-4 " +
                             (i == 0   ? (xIsNchw ? "X [N, C, H, W]" : "X [N, H, W, C]")
                              : i == 1 ? "W [K, R, S, C/group]"
                                       : "Z [N, OH, OW, K]") +
                             ", got " + symShapeToString(ctx.inputShape(i)));
    std::vector<ValueInfo> nchwInfos;
    nchwInfos.reserve(ctx.numInputs());
    std::vector<const ValueInfo*> inputs;
    for (size_t i = 0; i < ctx.numInputs(); ++i) {
        if (!ctx.hasInput(i)) {
            inputs.push_back(nullptr);
            continue;
        }
        const bool keep = i == 2 || (i == 0 && xIsNchw);  // the bias has no layout; NCHW X is read as it is
        nchwInfos.push_back(keep ? ctx.input(i) : shapeinfer::permutedInfo(ctx.input(i), kToChannelsFirst));
        // NCHW X may stay float under float16 / bfloat16 weights (a Cast folded in): the layer is of W's type.
        const DataType weightType = ctx.input(1).dtype;
        if (i == 0 && xIsNchw && ctx.input(0).dtype == DataType::kFLOAT &&
            (weightType == DataType::kHALF || weightType == DataType::kBF16))
            nchwInfos.back().dtype = weightType;
        inputs.push_back(&nchwInfos.back());
    }
    InferenceContext inner(ctx.node(), inputs, 1);
    KILN_RETURN_IF_ERROR(nchw(inner));
    const ValueInfo& result = inner.outputs()[0];
    ctx.setOutput(0, result.dtype, permuteRank4(result.shape, kToChannelsLast));
    return Status::ok();
}

/// FusedMatMul's base inference is MatMul's, over inputs 0 and 1 only.
Status inferFusedMatMul(InferenceContext& ctx) {
    const OpSchema* matmul = OpRegistry::global().find("", "MatMul");
    std::vector<const ValueInfo*> ab = {&ctx.input(0), &ctx.input(1)};
    InferenceContext inner(ctx.node(), ab, 1);
    KILN_RETURN_IF_ERROR(matmul->infer(inner));
    const ValueInfo& result = inner.outputs()[0];
    if (ctx.hasInput(2)) {
        const SymShape& bias = ctx.inputShape(2);
        const Dim& n = result.shape.empty() ? Dim(1) : result.shape.back();
        if (bias.size() != 1 || (bias[0].isKnown() && n.isKnown() && bias[0].value != n.value))
            return ctx.error("bias " + symShapeToString(bias) + " must be 1-D with the output's last extent");
    }
    if (ctx.hasInput(3)) {
        const SymShape& z = ctx.inputShape(3);
        bool same = z.size() == result.shape.size();
        for (size_t i = 0; same && i < z.size(); ++i)
            same = !(z[i].isKnown() && result.shape[i].isKnown() && z[i].value != result.shape[i].value);
        if (!same)
            return ctx.error("residual input " + symShapeToString(z) + " must have the output's shape " +
                             symShapeToString(result.shape) + " (it does not broadcast)");
        if (ctx.input(3).dtype != result.dtype)
            return ctx.error(std::string("residual input is ") + dataTypeName(ctx.input(3).dtype) + ", the output " +
                             dataTypeName(result.dtype));
    }
    ctx.setOutput(0, result.dtype, result.shape);
    return Status::ok();
}

/// Every op of the program broadcasts, so the output is the float inputs' common broadcast shape. The
/// pointwise fusion forms FP32 programs; precision assignment may then run them in FP16 or BF16 (the
/// program computes in float whatever the storage type), so those types are accepted too.
Status inferFusedPointwise(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(PointwiseProgram::fromNode(ctx.node()).status());
    static const InferFunction broadcastFloats = pointwise::inferVariadic(
        pointwise::typeBit(DataType::kFLOAT) | pointwise::typeBit(DataType::kHALF) | pointwise::typeBit(DataType::kBF16));
    return broadcastFloats(ctx);
}

}  // namespace

void registerFusedOps(OpRegistry& registry) {
    registry.add({"FusedConv", "kiln", inferFusedConv, 2, 4});
    registry.add({"FusedMatMul", "kiln", inferFusedMatMul, 2, 4});
    registry.add({"FusedPointwise", "kiln", inferFusedPointwise, 1, SIZE_MAX});
}

}  // namespace kiln
