// ReduceSum, ReduceMean, ReduceMax, ... and ArgMax / ArgMin: type and shape inference.

#include <memory>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/reduction_axes.h"

namespace kiln {

bool isMinMaxReduction(const std::string& opType) { return opType == "ReduceMax" || opType == "ReduceMin"; }

bool reductionAcceptsType(const std::string& opType, DataType type) {
    switch (type) {
        case DataType::kFLOAT:
        case DataType::kHALF:
        case DataType::kBF16:
        case DataType::kDOUBLE:
        case DataType::kINT32:
        case DataType::kINT64:
        case DataType::kUINT32:
        case DataType::kUINT64: return true;
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kBOOL: return isMinMaxReduction(opType);
        case DataType::kINT16:
        case DataType::kUINT16:
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
        case DataType::kINT4:
        case DataType::kUINT4:
        case DataType::kINT2:
        case DataType::kUINT2:
        case DataType::kFP4E2M1: return false;
        case DataType::kSTRING: return false;
    }
    return false;
}

Status markReducedAxes(const int64_t* axes, int64_t count, int64_t rank, bool noopWithEmptyAxes, bool* reduced) {
    if (count == 0) {
        if (!noopWithEmptyAxes)
            for (int64_t d = 0; d < rank; ++d) reduced[d] = true;
        return Status::ok();
    }
    for (int64_t i = 0; i < count; ++i) {
        auto axis = normalizeAxis(axes[i], rank);
        if (!axis) return invalidModel("axis " + std::to_string(axes[i]) + " is out of range for rank " + std::to_string(rank));
        if (reduced[*axis]) return invalidModel("axes repeat axis " + std::to_string(*axis));
        reduced[*axis] = true;
    }
    return Status::ok();
}

namespace {

Status inferReduce(InferenceContext& ctx) {
    const std::string& op = ctx.node().opType;
    DataType type = ctx.inputType(0);
    if (!reductionAcceptsType(op, type))
        return ctx.error(std::string("input type ") + dataTypeName(type) + " is not supported by " + op);
    if (ctx.attrs().has("axes"))
        return ctx.error("the axes attribute of older opsets must be converted to input 1 by the importer");
    const SymShape& x = ctx.inputShape(0);
    const int64_t rank = ctx.inputRank(0);
    const bool keepDims = ctx.attrs().getInt("keepdims", 1) != 0;
    const bool noop = ctx.attrs().getInt("noop_with_empty_axes", 0) != 0;
    if (ctx.hasInput(1) && ctx.inputRank(1) > 1)
        return ctx.error("axes (input 1) must be 1-D, got " + symShapeToString(ctx.inputShape(1)));
    if (ctx.hasInput(1) && ctx.inputType(1) != DataType::kINT64) return ctx.error("axes (input 1) must be int64");
    const Tensor* axesValue = ctx.inputValue(1);
    if (ctx.hasInput(1) && !axesValue) {
        // Unknown axes: with keepdims the rank stays; an extent 1 stays 1 whether reduced or not.
        if (!keepDims) {
            // Without keepdims the rank is the input's less the number of axes (all of them for an
            // empty list unless noop_with_empty_axes), which the axes' own shape tells; the extents
            // follow once the axes are computed (the runtime re-infers the node then).
            const SymShape& axesShape = ctx.inputShape(1);
            const Dim count = axesShape.empty() ? Dim(1) : axesShape[0];
            if (!count.isKnown())
                return ctx.error("axes (input 1) of unknown length with keepdims=0: the output rank is unknown");
            if (count.value > rank) return ctx.error("more axes than dimensions");
            const int64_t outRank = count.value == 0 ? (noop ? rank : 0) : rank - count.value;
            ctx.setOutput(0, type, SymShape(static_cast<size_t>(outRank), Dim::unknown()));
            return Status::ok();
        }
        SymShape out(x.size());
        for (size_t i = 0; i < x.size(); ++i)
            out[i] = (x[i].isKnown() && x[i].value == 1) ? Dim(1) : Dim::unknown();
        ctx.setOutput(0, type, std::move(out));
        return Status::ok();
    }
    std::vector<int64_t> axes = axesValue ? axesValue->toInt64Vector() : std::vector<int64_t>{};
    std::unique_ptr<bool[]> reduced(new bool[x.size()]());
    Status marked = markReducedAxes(axes.data(), static_cast<int64_t>(axes.size()), rank, noop, reduced.get());
    if (!marked) return ctx.error(marked.message());
    SymShape out;
    for (size_t i = 0; i < x.size(); ++i) {
        if (!reduced[i]) out.push_back(x[i]);
        else if (keepDims) out.emplace_back(1);
    }
    ctx.setOutput(0, type, std::move(out));
    return Status::ok();
}

Status inferArgReduce(InferenceContext& ctx) {
    DataType type = ctx.inputType(0);
    if (type == DataType::kBOOL) return ctx.error("input type bool is not supported");
    const SymShape& x = ctx.inputShape(0);
    if (x.empty()) return ctx.error("input must have rank >= 1");
    int64_t axisAttr = ctx.attrs().getInt("axis", 0);
    auto axis = normalizeAxis(axisAttr, ctx.inputRank(0));
    if (!axis)
        return ctx.error("attribute axis " + std::to_string(axisAttr) + " is out of range for input " +
                         symShapeToString(x));
    const bool keepDims = ctx.attrs().getInt("keepdims", 1) != 0;
    SymShape out;
    for (size_t i = 0; i < x.size(); ++i) {
        if (static_cast<int64_t>(i) != *axis) out.push_back(x[i]);
        else if (keepDims) out.emplace_back(1);
    }
    const Dim& extent = x[static_cast<size_t>(*axis)];
    auto outCount = knownElementCount(out);
    if (extent.isKnown() && extent.value == 0 && outCount && *outCount > 0)
        return ctx.error("cannot take the index of an extremum over the empty axis " + std::to_string(*axis));
    ctx.setOutput(0, DataType::kINT64, std::move(out));
    return Status::ok();
}

}  // namespace

void registerReductionOps(OpRegistry& registry) {
    for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})
        registry.add({op, "", inferReduce, 1, 2});
    registry.add({"ArgMax", "", inferArgReduce, 1, 1});
    registry.add({"ArgMin", "", inferArgReduce, 1, 1});
}

}  // namespace kiln
