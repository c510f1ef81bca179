// BatchNormalization, LayerNormalization, RMSNormalization, InstanceNormalization, GroupNormalization,
// LpNormalization and MeanVarianceNormalization: type and shape inference.

#include <algorithm>
#include <set>
#include <sstream>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/normalization_attrs.h"
#include "ir/ops/op_families.h"

namespace kiln {

std::optional<DataType> stashDataType(int64_t onnxElementType) {
    // ONNX TensorProto.DataType codes of the floating types a stash may have.
    switch (onnxElementType) {
        case 1: return DataType::kFLOAT;
        case 10: return DataType::kHALF;
        case 11: return DataType::kDOUBLE;
        case 16: return DataType::kBF16;
        default: return std::nullopt;
    }
}

Expected<int64_t> layerNormAxis(const AttributeMap& attrs, int64_t rank) {
    int64_t axis = attrs.getInt("axis", -1);
    auto normalized = normalizeAxis(axis, rank);
    if (!normalized)
        return invalidModel("attribute axis " + std::to_string(axis) + " is out of range for rank " +
                            std::to_string(rank));
    return *normalized;
}

Expected<std::vector<int64_t>> mvnAxes(const AttributeMap& attrs, int64_t rank) {
    std::vector<int64_t> axes = attrs.getInts("axes", {0, 2, 3});
    std::set<int64_t> seen;
    for (int64_t& axis : axes) {
        auto normalized = normalizeAxis(axis, rank);
        if (!normalized)
            return invalidModel("attribute axes " + shapeToString(axes, true) + " is out of range for rank " +
                                std::to_string(rank));
        axis = *normalized;
        if (!seen.insert(axis).second)
            return invalidModel("attribute axes " + shapeToString(axes, true) + " repeats an axis");
    }
    return axes;
}

namespace {

Status checkFloating(const InferenceContext& ctx, size_t index, const char* what) {
    DataType type = ctx.inputType(index);
    if (!isFloatingType(type))
        return ctx.error(std::string(what) + " has type " + dataTypeName(type) +
                         "; float16, bfloat16, float or double are required");
    return Status::ok();
}

Status checkSameType(const InferenceContext& ctx, size_t index, const char* what) {
    if (ctx.hasInput(index) && ctx.inputType(index) != ctx.inputType(0))
        return ctx.error(std::string(what) + " has type " + dataTypeName(ctx.inputType(index)) + ", input X has " +
                         dataTypeName(ctx.inputType(0)));
    return Status::ok();
}

/// A 1-D per-channel parameter (scale, bias, mean, variance) of `channels` entries.
Status checkPerChannel(const InferenceContext& ctx, size_t index, const char* what, const Dim& channels) {
    const SymShape& shape = ctx.inputShape(index);
    if (shape.size() != 1)
        return ctx.error(std::string(what) + " must be 1-D (one entry per channel), got " + symShapeToString(shape));
    if (shape[0].isKnown() && channels.isKnown() && shape[0].value != channels.value)
        return ctx.error(std::string(what) + " has " + std::to_string(shape[0].value) + " entries for " +
                         std::to_string(channels.value) + " channels");
    return Status::ok();
}

Status checkOutputCount(const InferenceContext& ctx, size_t maxOutputs) {
    if (ctx.numOutputs() < 1 || ctx.numOutputs() > maxOutputs)
        return ctx.error("has " + std::to_string(ctx.numOutputs()) + " outputs, expected 1.." +
                         std::to_string(maxOutputs));
    return Status::ok();
}

Status inferBatchNormalization(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkFloating(ctx, 0, "input X"));
    const SymShape& x = ctx.inputShape(0);
    if (x.empty()) return ctx.error("input X must have rank >= 1 (N x C x D1 ...)");
    int64_t training = ctx.attrs().getInt("training_mode", 0);
    if (training != 0 && training != 1) return ctx.error("attribute training_mode must be 0 or 1");
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, training ? 3 : 1));
    // A 1-D input is (N) with one channel.
    Dim channels = x.size() >= 2 ? x[1] : Dim(1);
    static const char* kNames[] = {"input X", "scale", "B", "input_mean", "input_var"};
    for (size_t i = 1; i < 5; ++i) {
        KILN_RETURN_IF_ERROR(checkFloating(ctx, i, kNames[i]));
        KILN_RETURN_IF_ERROR(checkPerChannel(ctx, i, kNames[i], channels));
    }
    if (ctx.inputType(2) != ctx.inputType(1)) return ctx.error("scale and B must have the same type");
    if (ctx.inputType(4) != ctx.inputType(3)) return ctx.error("input_mean and input_var must have the same type");
    ctx.setOutput(0, ctx.inputType(0), x);
    for (size_t i = 1; i < ctx.numOutputs(); ++i) ctx.setOutput(i, ctx.inputType(3), SymShape{channels});
    return Status::ok();
}

/// Scale and bias broadcast unidirectionally to X's shape.
Status checkBroadcastsTo(const InferenceContext& ctx, size_t index, const char* what) {
    if (!ctx.hasInput(index)) return Status::ok();
    const SymShape& x = ctx.inputShape(0);
    const SymShape& p = ctx.inputShape(index);
    bool ok = p.size() <= x.size();
    for (size_t i = 0; ok && i < p.size(); ++i) {
        const Dim& target = x[x.size() - p.size() + i];
        ok = !(p[i].isKnown() && p[i].value != 1 && target.isKnown() && p[i].value != target.value);
    }
    if (!ok)
        return ctx.error(std::string(what) + " " + symShapeToString(p) + " does not broadcast to input X " +
                         symShapeToString(x));
    return Status::ok();
}

Status inferLayerNormalization(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkFloating(ctx, 0, "input X"));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 1, "Scale"));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 2, "B"));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 3));
    const SymShape& x = ctx.inputShape(0);
    if (x.empty()) return ctx.error("input X must have rank >= 1");
    auto axis = layerNormAxis(ctx.attrs(), ctx.inputRank(0));
    if (!axis) return ctx.error(axis.status().message());
    auto stash = stashDataType(ctx.attrs().getInt("stash_type", 1));
    if (!stash) return ctx.error("attribute stash_type must name float16, bfloat16, float or double");
    KILN_RETURN_IF_ERROR(checkBroadcastsTo(ctx, 1, "Scale"));
    KILN_RETURN_IF_ERROR(checkBroadcastsTo(ctx, 2, "B"));
    ctx.setOutput(0, ctx.inputType(0), x);
    SymShape statShape = x;
    for (size_t i = static_cast<size_t>(*axis); i < statShape.size(); ++i) statShape[i] = Dim(1);
    for (size_t i = 1; i < ctx.numOutputs(); ++i) ctx.setOutput(i, *stash, statShape);
    return Status::ok();
}

Status inferInstanceNormalization(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkFloating(ctx, 0, "input"));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 1, "scale"));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 2, "B"));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    const SymShape& x = ctx.inputShape(0);
    if (x.size() < 3) return ctx.error("input must have rank >= 3 (N x C x D1 ...), got " + symShapeToString(x));
    KILN_RETURN_IF_ERROR(checkPerChannel(ctx, 1, "scale", x[1]));
    KILN_RETURN_IF_ERROR(checkPerChannel(ctx, 2, "B", x[1]));
    ctx.setOutput(0, ctx.inputType(0), x);
    return Status::ok();
}

Status inferGroupNormalization(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkFloating(ctx, 0, "input X"));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 1, "scale"));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 2, "bias"));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    const SymShape& x = ctx.inputShape(0);
    if (x.size() < 2) return ctx.error("input X must have rank >= 2 (N x C x D1 ...), got " + symShapeToString(x));
    auto groups = ctx.attrs().getInt("num_groups");
    if (!groups) return ctx.error("attribute num_groups is required");
    if (*groups < 1) return ctx.error("attribute num_groups must be >= 1, got " + std::to_string(*groups));
    if (!stashDataType(ctx.attrs().getInt("stash_type", 1)))
        return ctx.error("attribute stash_type must name float16, bfloat16, float or double");
    const Dim& channels = x[1];
    if (channels.isKnown() && channels.value % *groups != 0)
        return ctx.error(std::to_string(channels.value) + " channels are not divisible by num_groups " +
                         std::to_string(*groups));
    for (size_t i = 1; i < 3; ++i) {
        const SymShape& p = ctx.inputShape(i);
        // GroupNormalization-18 took one scale per group; the importer expands it to one per channel.
        if (p.size() == 1 && p[0].isKnown() && channels.isKnown() && p[0].value == *groups &&
            *groups != channels.value)
            return ctx.error(std::string(i == 1 ? "scale" : "bias") +
                             " has one entry per group (GroupNormalization-18); the IR takes one per channel");
        KILN_RETURN_IF_ERROR(checkPerChannel(ctx, i, i == 1 ? "scale" : "bias", channels));
    }
    ctx.setOutput(0, ctx.inputType(0), x);
    return Status::ok();
}

Status inferLpNormalization(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkFloating(ctx, 0, "input"));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    if (ctx.inputShape(0).empty()) return ctx.error("input must have rank >= 1");
    auto axis = layerNormAxis(ctx.attrs(), ctx.inputRank(0));
    if (!axis) return ctx.error(axis.status().message());
    int64_t p = ctx.attrs().getInt("p", 2);
    if (p != 1 && p != 2) return ctx.error("attribute p must be 1 or 2, got " + std::to_string(p));
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

Status inferMeanVarianceNormalization(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkFloating(ctx, 0, "input"));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    auto axes = mvnAxes(ctx.attrs(), ctx.inputRank(0));
    if (!axes) return ctx.error(axes.status().message());
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

}  // namespace

void registerNormalizationOps(OpRegistry& registry) {
    registry.add({"BatchNormalization", "", inferBatchNormalization, 5, 5, true, 1});
    registry.add({"LayerNormalization", "", inferLayerNormalization, 2, 3, true, 1});
    // RMSNormalization (opset 23): LayerNormalization's inputs and attributes without the bias and
    // the statistics outputs, so its inference is LayerNormalization's.
    registry.add({"RMSNormalization", "", inferLayerNormalization, 2, 2});
    registry.add({"InstanceNormalization", "", inferInstanceNormalization, 3, 3});
    registry.add({"GroupNormalization", "", inferGroupNormalization, 3, 3});
    registry.add({"LpNormalization", "", inferLpNormalization, 1, 1});
    registry.add({"MeanVarianceNormalization", "", inferMeanVarianceNormalization, 1, 1});
}

}  // namespace kiln
