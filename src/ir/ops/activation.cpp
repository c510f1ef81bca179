// Activation ops: pointwise nonlinearities (Relu, Sigmoid, Gelu, Clip, ...) and the axis-wise
// Softmax / LogSoftmax / Hardmax (opset-13 form: one axis, default -1).

#include "ir/ops/elementwise_inference.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

using namespace pointwise;

Status inferGelu(InferenceContext& ctx) {
    std::string approximate = ctx.attrs().getString("approximate", "none");
    if (approximate != "none" && approximate != "tanh")
        return ctx.error("attribute approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
    return inferUnary(kFloatTypes)(ctx);
}

Status inferCelu(InferenceContext& ctx) {
    if (ctx.attrs().getFloat("alpha", 1.0f) == 0.0f) return ctx.error("attribute alpha must be nonzero");
    return inferUnary(kFloatTypes)(ctx);
}

// The slope broadcasts to X (unidirectionally): the output has X's shape.
Status inferPRelu(InferenceContext& ctx) {
    constexpr TypeSet kTypes = kFloatTypes | typeBit(DataType::kINT32) | typeBit(DataType::kINT64) |
                               typeBit(DataType::kUINT32) | typeBit(DataType::kUINT64);
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kTypes));
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 1, kTypes));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 0, 1));
    const SymShape& x = ctx.inputShape(0);
    const SymShape& slope = ctx.inputShape(1);
    auto merged = broadcastShapes(x, slope);
    bool unidirectional = merged && merged->size() == x.size();
    for (size_t i = 0; unidirectional && i < x.size(); ++i) {
        const Dim& out = (*merged)[i];
        // Broadcasting may not grow X: a known extent of X must stay, and an X extent of 1 must not
        // become larger.
        if (x[i].isKnown() && out.isKnown() && out.value != x[i].value) unidirectional = false;
    }
    if (!unidirectional)
        return ctx.error("slope of shape " + symShapeToString(slope) + " does not broadcast to X of shape " +
                         symShapeToString(x));
    ctx.setOutput(0, ctx.inputType(0), x);
    return Status::ok();
}

// Clip's bounds are optional scalar inputs of the input's type.
Status inferClip(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kNumericTypes));
    for (size_t i = 1; i < 3; ++i) {
        if (!ctx.hasInput(i)) continue;
        KILN_RETURN_IF_ERROR(checkSameType(ctx, 0, i));
        KILN_RETURN_IF_ERROR(checkScalarInput(ctx, i, i == 1 ? "min" : "max"));
    }
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

Status inferSoftmaxFamily(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kFloatTypes));
    int64_t axis = ctx.attrs().getInt("axis", -1);
    if (!normalizeAxis(axis, ctx.inputRank(0)))
        return ctx.error("axis " + std::to_string(axis) + " is out of range for an input of rank " +
                         std::to_string(ctx.inputRank(0)));
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

}  // namespace

void registerActivationOps(OpRegistry& registry) {
    registry.add({"Relu", "", inferUnary(kFloatTypes | kSignedIntTypes), 1, 1});
    const InferFunction floatUnary = inferUnary(kFloatTypes);
    for (const char* op : {"LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus",
                           "Softsign", "Mish", "ThresholdedRelu", "Swish"})
        registry.add({op, "", floatUnary, 1, 1});
    registry.add({"Celu", "", inferCelu, 1, 1});
    registry.add({"Gelu", "", inferGelu, 1, 1});
    registry.add({"Shrink", "", inferUnary(kNumericTypes & ~typeBit(DataType::kBF16)), 1, 1});
    registry.add({"PRelu", "", inferPRelu, 2, 2});
    registry.add({"Clip", "", inferClip, 1, 3});
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) registry.add({op, "", inferSoftmaxFamily, 1, 1});
}

}  // namespace kiln
