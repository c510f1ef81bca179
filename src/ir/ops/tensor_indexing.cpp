// Tensor ops that select or place elements by index: Slice Gather GatherElements GatherND ScatterND
// ScatterElements OneHot.

#include <algorithm>
#include <cstdint>

#include "ir/ops/shape_infer_helpers.h"
#include "ir/ops/tensor_op_parts.h"
#include "ir/ops/tensor_slice_math.h"

namespace kiln::tensorops {

using shapeinfer::checkIntVectorInput;
using shapeinfer::checkScalarInput;
using shapeinfer::knownInts;
using shapeinfer::mergeEqualDims;
using shapeinfer::normalizeAxes;

namespace {

// Exporters write INT32_MAX or INT64_MAX as "to the end of a dimension of unknown size".
constexpr int64_t kSliceToEnd = 2147483647;

Status inferSlice(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    int64_t rank = static_cast<int64_t>(in.size());
    KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 1, "starts"));
    KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 2, "ends"));
    if (ctx.hasInput(3)) KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 3, "axes"));
    if (ctx.hasInput(4)) KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 4, "steps"));
    if (!mergeEqualDims(ctx.inputShape(1)[0], ctx.inputShape(2)[0]))
        return ctx.error("starts and ends have different lengths");
    SymShape out = in;
    auto starts = knownInts(ctx, 1);
    auto ends = knownInts(ctx, 2);
    std::optional<std::vector<int64_t>> axes;
    if (ctx.hasInput(3)) {
        axes = knownInts(ctx, 3);
    } else {
        const Dim& count = ctx.inputShape(1)[0];
        if (count.isKnown()) {
            if (count.value > rank)
                return ctx.error("starts has " + std::to_string(count.value) + " entries for rank " +
                                 std::to_string(rank));
            axes.emplace();
            for (int64_t i = 0; i < count.value; ++i) axes->push_back(i);
        }
    }
    if (!axes) {
        // Which axes are sliced is unknown: only the rank survives.
        ctx.setOutput(0, ctx.inputType(0), SymShape(in.size(), Dim::unknown()));
        return Status::ok();
    }
    KILN_RETURN_IF_ERROR(normalizeAxes(ctx, *axes, rank, "axes"));
    std::optional<std::vector<int64_t>> steps;
    if (ctx.hasInput(4))
        steps = knownInts(ctx, 4);
    else
        steps = std::vector<int64_t>(axes->size(), 1);
    bool valuesKnown = starts && ends && steps;
    if (valuesKnown &&
        (starts->size() != axes->size() || ends->size() != axes->size() || steps->size() != axes->size()))
        return ctx.error("starts, ends, axes and steps must have the same length");
    for (size_t i = 0; i < axes->size(); ++i) {
        Dim& d = out[static_cast<size_t>((*axes)[i])];
        if (!valuesKnown) {
            d = Dim::unknown();
            continue;
        }
        int64_t start = (*starts)[i];
        int64_t end = (*ends)[i];
        int64_t step = (*steps)[i];
        if (step == 0) return ctx.error("steps must not be 0");
        if (d.isKnown())
            d = resolveSlice(d.value, start, end, step).count;
        else if (!(start == 0 && step == 1 && end >= kSliceToEnd))
            d = Dim::unknown();  // the whole dim keeps its symbol
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status checkIndexType(const InferenceContext& ctx, size_t index) {
    DataType type = ctx.inputType(index);
    if (type != DataType::kINT32 && type != DataType::kINT64)
        return ctx.error(std::string("indices must be int32 or int64, got ") + dataTypeName(type));
    return Status::ok();
}

Expected<int64_t> axisAttribute(const InferenceContext& ctx, int64_t rank) {
    int64_t axis = ctx.attrs().getInt("axis", 0);
    auto normalized = normalizeAxis(axis, rank);
    if (!normalized)
        return ctx.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    return *normalized;
}

Status inferGather(InferenceContext& ctx) {
    const SymShape& data = ctx.inputShape(0);
    if (data.empty()) return ctx.error("data must have rank >= 1");
    KILN_RETURN_IF_ERROR(checkIndexType(ctx, 1));
    KILN_ASSIGN_OR_RETURN(int64_t axis, axisAttribute(ctx, static_cast<int64_t>(data.size())));
    const Dim& extent = data[static_cast<size_t>(axis)];
    if (auto indices = knownInts(ctx, 1); indices && extent.isKnown()) {
        for (int64_t index : *indices)
            if (index < -extent.value || index >= extent.value)
                return ctx.error("index " + std::to_string(index) + " is out of range for extent " +
                                 std::to_string(extent.value));
    }
    SymShape out(data.begin(), data.begin() + axis);
    const SymShape& indicesShape = ctx.inputShape(1);
    out.insert(out.end(), indicesShape.begin(), indicesShape.end());
    out.insert(out.end(), data.begin() + axis + 1, data.end());
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferGatherElements(InferenceContext& ctx) {
    int64_t rank = ctx.inputRank(0);
    if (rank < 1) return ctx.error("data must have rank >= 1");
    KILN_RETURN_IF_ERROR(checkIndexType(ctx, 1));
    if (ctx.inputRank(1) != rank) return ctx.error("indices must have the rank of data");
    KILN_RETURN_IF_ERROR(axisAttribute(ctx, rank).status());
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(1));
    return Status::ok();
}

Status inferGatherND(InferenceContext& ctx) {
    const SymShape& data = ctx.inputShape(0);
    const SymShape& indices = ctx.inputShape(1);
    int64_t r = static_cast<int64_t>(data.size());
    int64_t q = static_cast<int64_t>(indices.size());
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("indices must be int64");
    int64_t b = ctx.attrs().getInt("batch_dims", 0);
    if (r < 1 || q < 1) return ctx.error("data and indices must have rank >= 1");
    if (b < 0 || b >= std::min(q, r))
        return ctx.error("batch_dims " + std::to_string(b) + " must be in [0, min(q, r))");
    const Dim& k = indices.back();
    if (!k.isKnown())
        return unsupported(ctx.node().describe() +
                           ": the last dim of indices is not known at build time, so the "
                           "output rank would be unknown");
    if (k.value < 1 || k.value > r - b)
        return ctx.error("indices.shape[-1] = " + std::to_string(k.value) + " must be in [1, " + std::to_string(r - b) +
                         "]");
    SymShape out;
    for (int64_t i = 0; i < q - 1; ++i) {
        if (i < b) {
            auto merged = mergeEqualDims(indices[static_cast<size_t>(i)], data[static_cast<size_t>(i)]);
            if (!merged) return ctx.error("batch dim " + std::to_string(i) + " differs between data and indices");
            out.push_back(*merged);
        } else {
            out.push_back(indices[static_cast<size_t>(i)]);
        }
    }
    out.insert(out.end(), data.begin() + b + k.value, data.end());
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status checkReduction(const InferenceContext& ctx) {
    std::string reduction = ctx.attrs().getString("reduction", "none");
    if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min")
        return ctx.error("reduction '" + reduction + "' is not one of none, add, mul, max, min");
    return Status::ok();
}

Status inferScatterND(InferenceContext& ctx) {
    const SymShape& data = ctx.inputShape(0);
    const SymShape& indices = ctx.inputShape(1);
    KILN_RETURN_IF_ERROR(checkReduction(ctx));
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("indices must be int64");
    if (ctx.inputType(2) != ctx.inputType(0)) return ctx.error("updates must have the type of data");
    int64_t r = static_cast<int64_t>(data.size());
    int64_t q = static_cast<int64_t>(indices.size());
    if (r < 1 || q < 1) return ctx.error("data and indices must have rank >= 1");
    if (indices.back().isKnown()) {
        int64_t k = indices.back().value;
        if (k < 1 || k > r) return ctx.error("indices.shape[-1] = " + std::to_string(k) + " exceeds the rank of data");
        if (ctx.inputRank(2) != q - 1 + r - k)
            return ctx.error("updates must have rank " + std::to_string(q - 1 + r - k) + ", got " +
                             std::to_string(ctx.inputRank(2)));
    }
    ctx.setOutput(0, ctx.inputType(0), data);
    return Status::ok();
}

Status inferScatterElements(InferenceContext& ctx) {
    int64_t rank = ctx.inputRank(0);
    KILN_RETURN_IF_ERROR(checkReduction(ctx));
    KILN_RETURN_IF_ERROR(checkIndexType(ctx, 1));
    if (rank < 1) return ctx.error("data must have rank >= 1");
    if (ctx.inputRank(1) != rank || ctx.inputRank(2) != rank)
        return ctx.error("data, indices and updates must have one rank");
    if (ctx.inputType(2) != ctx.inputType(0)) return ctx.error("updates must have the type of data");
    KILN_RETURN_IF_ERROR(axisAttribute(ctx, rank).status());
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

Status inferOneHot(InferenceContext& ctx) {
    const SymShape& indices = ctx.inputShape(0);
    int64_t outRank = static_cast<int64_t>(indices.size()) + 1;
    if (ctx.inputType(0) == DataType::kBOOL || ctx.inputType(0) == DataType::kBF16)
        return ctx.error(std::string("indices of type ") + dataTypeName(ctx.inputType(0)) + " are not allowed");
    KILN_RETURN_IF_ERROR(checkScalarInput(ctx, 1, "depth"));
    if (ctx.inputRank(2) != 1 || !ctx.inputShape(2)[0].isKnown() || ctx.inputShape(2)[0].value != 2)
        return ctx.error("values must be a 2-element 1-D tensor [off_value, on_value]");
    int64_t axisAttr = ctx.attrs().getInt("axis", -1);
    auto axis = normalizeAxis(axisAttr, outRank);
    if (!axis)
        return ctx.error("axis " + std::to_string(axisAttr) + " is out of range for output rank " +
                         std::to_string(outRank));
    Dim depth = Dim::unknown();
    if (const Tensor* value = ctx.inputValue(1)) {
        double d = value->elementAsDouble(0);
        if (!(d >= 1)) return ctx.error("depth must be positive");
        depth = static_cast<int64_t>(d);
    }
    SymShape out = indices;
    out.insert(out.begin() + *axis, depth);
    ctx.setOutput(0, ctx.inputType(2), std::move(out));
    return Status::ok();
}

}  // namespace

void registerIndexingOps(OpRegistry& registry) {
    registry.add({"Slice", "", inferSlice, 3, 5});
    registry.add({"Gather", "", inferGather, 2, 2});
    registry.add({"GatherElements", "", inferGatherElements, 2, 2});
    registry.add({"GatherND", "", inferGatherND, 2, 2});
    registry.add({"ScatterND", "", inferScatterND, 3, 3});
    registry.add({"ScatterElements", "", inferScatterElements, 3, 3});
    registry.add({"OneHot", "", inferOneHot, 3, 3});
}

}  // namespace kiln::tensorops
