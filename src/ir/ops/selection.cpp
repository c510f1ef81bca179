// Selection ops, whose output shapes depend on input values: NonZero Compress Unique
// NonMaxSuppression (the data-dependent dims stay unknown; the runtime takes the shapes from the
// kernel: OpSchema::dataDependentShape) and TopK (its shape follows from the value of k).

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

using shapeinfer::checkScalarInput;
using shapeinfer::knownInts;

namespace {

Status inferNonZero(InferenceContext& ctx) {
    ctx.setOutput(0, DataType::kINT64, {Dim(ctx.inputRank(0)), Dim::unknown()});
    return Status::ok();
}

Status inferCompress(InferenceContext& ctx) {
    if (ctx.inputType(1) != DataType::kBOOL) return ctx.error("condition must be bool");
    if (ctx.inputRank(1) != 1) return ctx.error("condition must be 1-D, got rank " + std::to_string(ctx.inputRank(1)));
    if (auto axis = ctx.attrs().getInt("axis")) {
        auto normalized = normalizeAxis(*axis, ctx.inputRank(0));
        if (!normalized)
            return ctx.error("axis " + std::to_string(*axis) + " is out of range for rank " + std::to_string(ctx.inputRank(0)));
        SymShape shape = ctx.inputShape(0);
        shape[static_cast<size_t>(*normalized)] = Dim::unknown();
        ctx.setOutput(0, ctx.inputType(0), shape);
    } else {
        ctx.setOutput(0, ctx.inputType(0), {Dim::unknown()});
    }
    return Status::ok();
}

Status inferUnique(InferenceContext& ctx) {
    const int64_t rank = ctx.inputRank(0);
    SymShape y = {Dim::unknown()};
    Dim slices = shapeinfer::dimProduct(ctx.inputShape(0), 0, static_cast<size_t>(rank));
    if (auto axis = ctx.attrs().getInt("axis")) {
        auto normalized = normalizeAxis(*axis, rank);
        if (!normalized) return ctx.error("axis " + std::to_string(*axis) + " is out of range for rank " + std::to_string(rank));
        y = ctx.inputShape(0);
        slices = y[static_cast<size_t>(*normalized)];
        y[static_cast<size_t>(*normalized)] = Dim::unknown();
    }
    int64_t sorted = ctx.attrs().getInt("sorted", 1);
    if (sorted != 0 && sorted != 1) return ctx.error("sorted must be 0 or 1, got " + std::to_string(sorted));
    ctx.setOutput(0, ctx.inputType(0), y);
    if (ctx.numOutputs() > 1) ctx.setOutput(1, DataType::kINT64, {Dim::unknown()});
    if (ctx.numOutputs() > 2) ctx.setOutput(2, DataType::kINT64, {slices});
    if (ctx.numOutputs() > 3) ctx.setOutput(3, DataType::kINT64, {Dim::unknown()});
    return Status::ok();
}

Status inferTopK(InferenceContext& ctx) {
    const int64_t rank = ctx.inputRank(0);
    int64_t axisAttr = ctx.attrs().getInt("axis", -1);
    auto axis = normalizeAxis(axisAttr, rank);
    if (!axis) return ctx.error("axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(rank));
    for (const char* flag : {"largest", "sorted"}) {
        int64_t v = ctx.attrs().getInt(flag, 1);
        if (v != 0 && v != 1) return ctx.error(std::string(flag) + " must be 0 or 1, got " + std::to_string(v));
    }
    if (!ctx.hasInput(1)) return ctx.error("input K is missing");
    KILN_RETURN_IF_ERROR(checkScalarInput(ctx, 1, "K"));
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("K must be int64");
    SymShape shape = ctx.inputShape(0);
    Dim& extent = shape[static_cast<size_t>(*axis)];
    if (auto k = knownInts(ctx, 1)) {
        int64_t count = (*k)[0];
        if (count < 0) return ctx.error("K must be non-negative, got " + std::to_string(count));
        if (extent.isKnown() && count > extent.value)
            return ctx.error("K = " + std::to_string(count) + " exceeds the axis extent " + std::to_string(extent.value));
        extent = Dim(count);
    } else {
        extent = Dim::unknown();
    }
    ctx.setOutput(0, ctx.inputType(0), shape);
    if (ctx.numOutputs() > 1) ctx.setOutput(1, DataType::kINT64, shape);
    return Status::ok();
}

Status inferNonMaxSuppression(InferenceContext& ctx) {
    if (ctx.inputRank(0) != 3) return ctx.error("boxes must have rank 3 [batches, boxes, 4]");
    if (ctx.inputRank(1) != 3) return ctx.error("scores must have rank 3 [batches, classes, boxes]");
    const SymShape& boxes = ctx.inputShape(0);
    if (boxes[2].isKnown() && boxes[2].value != 4) return ctx.error("boxes must have 4 coordinates in the last dimension");
    if (!isFloatingType(ctx.inputType(0)) || ctx.inputType(1) != ctx.inputType(0))
        return ctx.error("boxes and scores must be of the same floating-point type");
    if (ctx.hasInput(2)) {
        KILN_RETURN_IF_ERROR(checkScalarInput(ctx, 2, "max_output_boxes_per_class"));
        if (ctx.inputType(2) != DataType::kINT64) return ctx.error("max_output_boxes_per_class must be int64");
    }
    for (size_t i : {size_t{3}, size_t{4}}) {
        if (!ctx.hasInput(i)) continue;
        KILN_RETURN_IF_ERROR(checkScalarInput(ctx, i, i == 3 ? "iou_threshold" : "score_threshold"));
        if (!isFloatingType(ctx.inputType(i))) return ctx.error("thresholds must be floating-point");
    }
    int64_t centerPointBox = ctx.attrs().getInt("center_point_box", 0);
    if (centerPointBox != 0 && centerPointBox != 1)
        return ctx.error("center_point_box must be 0 or 1, got " + std::to_string(centerPointBox));
    ctx.setOutput(0, DataType::kINT64, {Dim::unknown(), Dim(3)});
    return Status::ok();
}

OpSchema dataDependent(const char* opType, InferFunction infer, size_t minInputs, size_t maxInputs) {
    OpSchema schema{opType, "", std::move(infer), minInputs, maxInputs};
    schema.dataDependentShape = true;
    return schema;
}

}  // namespace

void registerSelectionOps(OpRegistry& registry) {
    registry.add(dataDependent("NonZero", inferNonZero, 1, 1));
    registry.add(dataDependent("Compress", inferCompress, 2, 2));
    registry.add(dataDependent("Unique", inferUnique, 1, 1));
    // TopK's shape follows from the value of k: known when k is, else inferred again at run time.
    registry.add({"TopK", "", inferTopK, 2, 2});
    registry.add(dataDependent("NonMaxSuppression", inferNonMaxSuppression, 2, 5));
}

}  // namespace kiln
