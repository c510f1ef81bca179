// Einsum: shape inference from the parsed equation. Each label's extent is the one its axes agree
// on; the ellipsis axes broadcast (an extent of 1 gives way to the others).

#include "ir/ops/einsum_equation.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

Status inferEinsum(InferenceContext& ctx) {
    auto equation = ctx.attrs().getString("equation");
    if (!equation) return ctx.error("attribute 'equation' is required");
    std::vector<int64_t> ranks;
    for (size_t i = 0; i < ctx.numInputs(); ++i) {
        if (!ctx.hasInput(i)) return ctx.error("input " + std::to_string(i) + " is missing");
        if (ctx.inputType(i) != ctx.inputType(0)) return ctx.error("all inputs must have one element type");
        ranks.push_back(ctx.inputRank(i));
    }
    auto parsed = parseEinsumEquation(*equation, ranks);
    if (!parsed) return ctx.error(parsed.status().message());
    std::vector<Dim> extent(static_cast<size_t>(parsed->labelCount), Dim(1));
    std::vector<bool> seen(extent.size(), false);
    for (size_t i = 0; i < parsed->inputs.size(); ++i) {
        const SymShape& shape = ctx.inputShape(i);
        for (size_t a = 0; a < shape.size(); ++a) {
            size_t label = static_cast<size_t>(parsed->inputs[i][a]);
            const bool broadcastable = static_cast<int32_t>(label) < parsed->ellipsisRank;
            const Dim& d = shape[a];
            if (!seen[label] || (broadcastable && extent[label].isKnown() && extent[label].value == 1)) {
                if (!seen[label] || !(d.isKnown() && d.value == 1)) extent[label] = d;
                seen[label] = true;
                continue;
            }
            if (broadcastable && d.isKnown() && d.value == 1) continue;
            if (d.isKnown() && extent[label].isKnown() && d.value != extent[label].value)
                return ctx.error("equation '" + *equation + "': input " + std::to_string(i) + " axis " + std::to_string(a) + " has extent " +
                                 std::to_string(d.value) + " where another axis of its label has " + std::to_string(extent[label].value));
            if (!extent[label].isKnown() && d.isKnown()) extent[label] = d;
        }
    }
    SymShape out;
    for (int32_t label : parsed->output) out.push_back(extent[static_cast<size_t>(label)]);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

}  // namespace

void registerEinsumOps(OpRegistry& registry) {
    registry.add({"Einsum", "", inferEinsum, 1, SIZE_MAX});
}

}  // namespace kiln
