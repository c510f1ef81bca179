// Recurrent layers: RNN, GRU, LSTM (opsets 7..22; `layout` arrived in opset 14 and defaults to the
// older sequence-major form). Inputs X, W, R, B, sequence_lens, initial_h (and initial_c, P for
// LSTM); outputs Y, Y_h (and Y_c for LSTM), any of them optional.

#include <algorithm>

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

/// `gates`: the number of gates each op stacks in W, R and B: RNN 1, GRU 3 (z r h), LSTM 4 (i o f c).
Status inferRecurrent(InferenceContext& ctx, int64_t gates, size_t activationsPerDirection, size_t maxOutputs) {
    if (ctx.numOutputs() > maxOutputs)
        return ctx.error("has " + std::to_string(ctx.numOutputs()) + " outputs; at most " + std::to_string(maxOutputs) +
                         " are defined");
    const AttributeMap& attrs = ctx.attrs();
    const std::string direction = attrs.getString("direction", "forward");
    if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
        return ctx.error("direction must be forward, reverse or bidirectional, got '" + direction + "'");
    const int64_t directions = direction == "bidirectional" ? 2 : 1;
    const int64_t layout = attrs.getInt("layout", 0);
    if (layout != 0 && layout != 1) return ctx.error("layout must be 0 or 1, got " + std::to_string(layout));
    if (auto activations = attrs.getStrings("activations");
        activations && activations->size() != activationsPerDirection * static_cast<size_t>(directions))
        return ctx.error("activations lists " + std::to_string(activations->size()) + " functions; " +
                         std::to_string(activationsPerDirection * static_cast<size_t>(directions)) +
                         " are needed for direction '" + direction + "'");
    if (auto clip = attrs.getFloat("clip"); clip && !(*clip > 0.0f))
        return ctx.error("clip must be positive, got " + std::to_string(*clip));

    const DataType type = ctx.inputType(0);
    if (!isFloatingType(type)) return ctx.error(std::string("X must be a floating-point tensor, got ") + dataTypeName(type));
    for (size_t i : {size_t{1}, size_t{2}})
        if (ctx.inputRank(i) != 3 || ctx.inputType(i) != type)
            return ctx.error(std::string(i == 1 ? "W" : "R") + " must be a 3-D tensor of X's type");
    if (ctx.inputRank(0) != 3) return ctx.error("X must be 3-D, got rank " + std::to_string(ctx.inputRank(0)));
    const SymShape& x = ctx.inputShape(0);
    const SymShape& w = ctx.inputShape(1);
    const SymShape& r = ctx.inputShape(2);

    Dim hidden = r[2];
    if (auto attrHidden = attrs.getInt("hidden_size")) {
        if (*attrHidden <= 0) return ctx.error("hidden_size must be positive");
        if (hidden.isKnown() && hidden.value != *attrHidden)
            return ctx.error("hidden_size is " + std::to_string(*attrHidden) + " but R holds " +
                             std::to_string(hidden.value) + " columns");
        hidden = Dim(*attrHidden);
    }
    for (const SymShape* weights : {&w, &r}) {
        if ((*weights)[0].isKnown() && (*weights)[0].value != directions)
            return ctx.error("W and R need " + std::to_string(directions) + " direction(s) in dimension 0, got " +
                             symShapeToString(*weights));
        if ((*weights)[1].isKnown() && hidden.isKnown() && (*weights)[1].value != gates * hidden.value)
            return ctx.error("W and R need " + std::to_string(gates) + " * hidden_size = " +
                             std::to_string(gates * hidden.value) + " rows, got " + symShapeToString(*weights));
    }
    if (w[2].isKnown() && x[2].isKnown() && w[2].value != x[2].value)
        return ctx.error("W's input size " + std::to_string(w[2].value) + " differs from X's " + std::to_string(x[2].value));
    if (ctx.hasInput(3) && ctx.inputRank(3) != 2) return ctx.error("B must be 2-D [directions, 2 * gates * hidden]");
    if (ctx.hasInput(4)) {
        if (ctx.inputRank(4) != 1 || !isIntegerType(ctx.inputType(4)))
            return ctx.error("sequence_lens must be a 1-D integer tensor");
    }
    for (size_t i = 5; i < ctx.numInputs(); ++i)
        if (ctx.hasInput(i) && ctx.inputType(i) != type)
            return ctx.error("input " + std::to_string(i) + " must have X's element type");

    const Dim seq = layout == 0 ? x[0] : x[1];
    const Dim batch = layout == 0 ? x[1] : x[0];
    const SymShape state = layout == 0 ? SymShape{directions, batch, hidden} : SymShape{batch, directions, hidden};
    if (ctx.numOutputs() > 0)
        ctx.setOutput(0, type, layout == 0 ? SymShape{seq, directions, batch, hidden} : SymShape{batch, seq, directions, hidden});
    for (size_t i = 1; i < ctx.numOutputs(); ++i) ctx.setOutput(i, type, state);
    return Status::ok();
}

}  // namespace

void registerRecurrentOps(OpRegistry& registry) {
    registry.add({"RNN", "", [](InferenceContext& ctx) { return inferRecurrent(ctx, 1, 1, 2); }, 3, 6});
    registry.add({"GRU", "", [](InferenceContext& ctx) { return inferRecurrent(ctx, 3, 2, 2); }, 3, 6});
    registry.add({"LSTM", "", [](InferenceContext& ctx) { return inferRecurrent(ctx, 4, 3, 3); }, 3, 8});
}

}  // namespace kiln
