// TensorScatter (opset 24): the KV-cache update of LLM decoders as a functional op. present_cache
// is past_cache with update written along the sequence axis, starting at each batch entry's
// write index (write_indices, zeros when omitted); mode "circular" wraps around the cache's
// length, mode "linear" must fit. (ScatterND / ScatterElements are in tensor_indexing.cpp.)

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

Status inferTensorScatter(InferenceContext& ctx) {
    const SymShape& cache = ctx.inputShape(0);
    const SymShape& update = ctx.inputShape(1);
    const int64_t rank = ctx.inputRank(0);
    if (rank < 2) return ctx.error("past_cache must have rank >= 2 (batch and sequence axes), got rank " + std::to_string(rank));
    if (ctx.inputType(1) != ctx.inputType(0))
        return ctx.error(std::string("update is ") + dataTypeName(ctx.inputType(1)) + " but past_cache is " +
                         dataTypeName(ctx.inputType(0)));
    const std::string mode = ctx.attrs().getString("mode", "linear");
    if (mode != "linear" && mode != "circular") return ctx.error("mode '" + mode + "' is not linear or circular");
    const int64_t attrAxis = ctx.attrs().getInt("axis", -2);
    const std::optional<int64_t> axis = normalizeAxis(attrAxis, rank);
    if (!axis) return ctx.error("axis " + std::to_string(attrAxis) + " is out of range for rank " + std::to_string(rank));
    if (*axis == 0) return ctx.error("axis must not be 0 (the batch axis)");
    if (ctx.inputRank(1) != rank)
        return ctx.error("update has rank " + std::to_string(ctx.inputRank(1)) + ", past_cache rank " + std::to_string(rank));
    for (int64_t i = 0; i < rank; ++i) {
        const Dim& c = cache[static_cast<size_t>(i)];
        const Dim& u = update[static_cast<size_t>(i)];
        const bool fits = i == *axis ? !(c.isKnown() && u.isKnown() && u.value > c.value)
                                     : shapeinfer::mergeEqualDims(c, u).has_value();
        if (!fits)
            return ctx.error("update " + symShapeToString(update) + " does not fit past_cache " + symShapeToString(cache) +
                             (i == *axis ? " (longer along the sequence axis)" : " (they differ off the sequence axis)"));
    }
    if (ctx.hasInput(2)) {
        if (ctx.inputType(2) != DataType::kINT64 || ctx.inputRank(2) != 1)
            return ctx.error("write_indices must be a 1-D int64 tensor (batch_size,)");
        if (!shapeinfer::mergeEqualDims(ctx.inputShape(2)[0], cache[0]))
            return ctx.error("write_indices has " + ctx.inputShape(2)[0].toString() + " entries for a batch of " +
                             cache[0].toString());
    }
    ctx.setOutput(0, ctx.inputType(0), cache);
    return Status::ok();
}

}  // namespace

void registerTensorScatterOps(OpRegistry& registry) { registry.add({"TensorScatter", "", inferTensorScatter, 2, 3}); }

}  // namespace kiln
