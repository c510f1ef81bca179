// CausalConvWithState (opset 27): the stateful causal depthwise 1-D convolution of Mamba and Gated
// DeltaNet blocks. The input (batch, channels, length) is preceded by past_state (batch, channels,
// k - 1), zeros when omitted; each channel is convolved with its own kernel of weight
// (channels, 1, k) without padding, so the output has the input's shape; an optional per-channel
// bias is added and SiLU ("swish" is its alias) applied. present_state holds the last k - 1
// positions of the padded sequence, for the next decode step: its shape follows from the weight's.

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

bool isConvType(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16 || type == DataType::kDOUBLE;
}

Status inferCausalConvWithState(InferenceContext& ctx) {
    const DataType type = ctx.inputType(0);
    if (!isConvType(type)) return ctx.error(std::string("input must be float, float16, bfloat16 or double, got ") + dataTypeName(type));
    if (ctx.inputRank(0) != 3) return ctx.error("input must have rank 3 (batch_size, channels, length)");
    if (ctx.inputRank(1) != 3) return ctx.error("weight must have rank 3 (channels, 1, k)");
    const SymShape& x = ctx.inputShape(0);
    const SymShape& w = ctx.inputShape(1);
    const std::string activation = ctx.attrs().getString("activation", "none");
    if (activation != "none" && activation != "silu" && activation != "swish")
        return ctx.error("activation '" + activation + "' is not one of none, silu, swish");
    for (size_t i = 1; i < ctx.numInputs(); ++i)
        if (ctx.hasInput(i) && ctx.inputType(i) != type)
            return ctx.error("input " + std::to_string(i) + " is " + dataTypeName(ctx.inputType(i)) + " but input is " +
                             dataTypeName(type));
    std::optional<Dim> channels = shapeinfer::mergeEqualDims(x[1], w[0]);
    if (!channels)
        return ctx.error("weight " + symShapeToString(w) + " has " + w[0].toString() + " kernels for " + x[1].toString() +
                         " channels");
    if (w[1].isKnown() && w[1].value != 1) return ctx.error("weight's dimension 1 must be 1 (depthwise), got " + w[1].toString());
    if (w[2].isKnown() && w[2].value < 1) return ctx.error("the kernel size (weight's dimension 2) must be >= 1");
    const Dim stateLength = w[2].isKnown() ? Dim(w[2].value - 1) : Dim::unknown();
    SymShape state{x[0], *channels, stateLength};
    if (ctx.hasInput(2)) {
        if (ctx.inputRank(2) != 1 || !shapeinfer::mergeEqualDims(ctx.inputShape(2)[0], *channels))
            return ctx.error("bias must have shape (channels) = (" + channels->toString() + "), got " +
                             symShapeToString(ctx.inputShape(2)));
    }
    if (ctx.hasInput(3)) {
        const SymShape& past = ctx.inputShape(3);
        bool fits = past.size() == 3;
        for (size_t i = 0; fits && i < 3; ++i) {
            std::optional<Dim> merged = shapeinfer::mergeEqualDims(past[i], state[i]);
            fits = merged.has_value();
            if (fits) state[i] = *merged;
        }
        if (!fits)
            return ctx.error("past_state must have shape (batch_size, channels, k - 1) = " + symShapeToString(state) +
                             ", got " + symShapeToString(past));
    }
    ctx.setOutput(0, type, {state[0], state[1], x[2]});
    if (ctx.numOutputs() > 1) ctx.setOutput(1, type, state);
    return Status::ok();
}

}  // namespace

void registerCausalConvWithStateOps(OpRegistry& registry) {
    OpSchema schema{"CausalConvWithState", "", inferCausalConvWithState, 2, 4};
    schema.requiredOutputs = 1;  // present_state is only needed by a model that decodes on
    registry.add(std::move(schema));
}

}  // namespace kiln
