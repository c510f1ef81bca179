// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: type and shape inference.
// Both take scores (N, C, d1..dk), class targets (N, d1..dk) and an optional per-class weight (C);
// the loss has the target's shape with reduction "none", else it is a scalar.

#include <string>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

/// The more informative of two extents that must agree (a known value, else a named symbol).
Dim mergedDim(const Dim& a, const Dim& b) {
    if (a.isKnown()) return a;
    if (b.isKnown()) return b;
    return a.symbol.empty() ? b : a;
}

/// Checks scores, target and weight; returns the target's shape with the scores' extents merged in.
Expected<SymShape> checkLossInputs(const InferenceContext& ctx, const char* scoresName, const char* targetName) {
    const DataType scoresType = ctx.inputType(0);
    if (!isFloatingType(scoresType))
        return ctx.error(std::string("input ") + scoresName + " has type " + dataTypeName(scoresType) +
                         "; float16, bfloat16, float or double is required");
    const SymShape& scores = ctx.inputShape(0);
    if (scores.size() < 2)
        return ctx.error(std::string("input ") + scoresName + " must have rank >= 2 (N x C x d1 ...), got " +
                         symShapeToString(scores));
    const DataType targetType = ctx.inputType(1);
    if (targetType != DataType::kINT32 && targetType != DataType::kINT64)
        return ctx.error(std::string("input ") + targetName + " has type " + dataTypeName(targetType) +
                         "; int32 or int64 is required");
    const SymShape& target = ctx.inputShape(1);
    if (target.size() + 1 != scores.size())
        return ctx.error(std::string("input ") + targetName + " " + symShapeToString(target) +
                         " must have the shape of " + scoresName + " " + symShapeToString(scores) +
                         " without its class axis 1");
    SymShape merged(target.size());
    for (size_t i = 0; i < target.size(); ++i) {
        const Dim& expected = scores[i == 0 ? 0 : i + 1];
        if (target[i].isKnown() && expected.isKnown() && target[i].value != expected.value)
            return ctx.error(std::string("input ") + targetName + " " + symShapeToString(target) +
                             " does not match " + scoresName + " " + symShapeToString(scores) +
                             " (expected N x d1 ... of the scores)");
        merged[i] = mergedDim(target[i], expected);
    }
    if (ctx.hasInput(2)) {
        if (ctx.inputType(2) != scoresType)
            return ctx.error("weight has type " + std::string(dataTypeName(ctx.inputType(2))) + ", " + scoresName +
                             " has " + dataTypeName(scoresType));
        const SymShape& weight = ctx.inputShape(2);
        if (weight.size() != 1)
            return ctx.error("weight must be 1-D (one entry per class), got " + symShapeToString(weight));
        if (weight[0].isKnown() && scores[1].isKnown() && weight[0].value != scores[1].value)
            return ctx.error("weight has " + std::to_string(weight[0].value) + " entries for " +
                             std::to_string(scores[1].value) + " classes");
    }
    return merged;
}

/// Whether the loss keeps one value per target ("none") or is reduced to a scalar ("sum", "mean").
Expected<bool> keepsPerTargetLoss(const InferenceContext& ctx) {
    const std::string reduction = ctx.attrs().getString("reduction", "mean");
    if (reduction == "none") return true;
    if (reduction == "sum" || reduction == "mean") return false;
    return ctx.error("attribute reduction must be none, sum or mean, got \"" + reduction + "\"");
}

Status inferLoss(InferenceContext& ctx, const char* scoresName, const char* targetName, size_t maxOutputs) {
    if (ctx.numOutputs() < 1 || ctx.numOutputs() > maxOutputs)
        return ctx.error("has " + std::to_string(ctx.numOutputs()) + " outputs, expected 1.." +
                         std::to_string(maxOutputs));
    auto targetShape = checkLossInputs(ctx, scoresName, targetName);
    if (!targetShape) return targetShape.status();
    auto perTarget = keepsPerTargetLoss(ctx);
    if (!perTarget) return perTarget.status();
    ctx.setOutput(0, ctx.inputType(0), *perTarget ? *targetShape : SymShape{});
    // SoftmaxCrossEntropyLoss's optional log_prob has the scores' shape.
    if (ctx.numOutputs() > 1) ctx.setOutput(1, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

Status inferNegativeLogLikelihoodLoss(InferenceContext& ctx) { return inferLoss(ctx, "input", "target", 1); }

Status inferSoftmaxCrossEntropyLoss(InferenceContext& ctx) { return inferLoss(ctx, "scores", "labels", 2); }

}  // namespace

void registerLossOps(OpRegistry& registry) {
    registry.add({"NegativeLogLikelihoodLoss", "", inferNegativeLogLikelihoodLoss, 2, 3});
    registry.add({"SoftmaxCrossEntropyLoss", "", inferSoftmaxCrossEntropyLoss, 2, 3, true, 1});
}

}  // namespace kiln
