// ReduceSum, ReduceMean, ReduceMax, ... and ArgMax / ArgMin: type and shape inference.

#include <set>

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
        case DataType::kUINT16: return false;
    }
    return false;
}

Expected<std::optional<std::vector<int64_t>>> reductionAxes(const Tensor* axesValue, bool axesGiven, int64_t rank,
                                                           bool noopWithEmptyAxes) {
    std::vector<int64_t> axes;
    if (axesGiven) {
        if (!axesValue) return std::optional<std::vector<int64_t>>{};
        if (axesValue->dtype() != DataType::kINT64) return invalidModel("axes (input 1) must be int64");
        if (axesValue->rank() > 1) return invalidModel("axes (input 1) must be 1-D");
        axes = axesValue->toInt64Vector();
    }
    if (axes.empty()) {
        if (noopWithEmptyAxes) return std::optional<std::vector<int64_t>>{std::vector<int64_t>{}};
        for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
        return std::optional<std::vector<int64_t>>{axes};
    }
    std::set<int64_t> seen;
    for (int64_t& axis : axes) {
        auto normalized = normalizeAxis(axis, rank);
        if (!normalized)
            return invalidModel("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
        axis = *normalized;
        if (!seen.insert(axis).second) return invalidModel("axes repeat axis " + std::to_string(axis));
    }
    return std::optional<std::vector<int64_t>>{axes};
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
    auto axes = reductionAxes(ctx.inputValue(1), ctx.hasInput(1), rank, noop);
    if (!axes) return ctx.error(axes.status().message());

    if (!axes->has_value()) {
        // Unknown axes: with keepdims the rank stays; an extent 1 stays 1 whether reduced or not.
        if (!keepDims)
            return ctx.error("axes (input 1) must be a constant when keepdims=0: the output rank depends on it");
        SymShape out(x.size());
        for (size_t i = 0; i < x.size(); ++i)
            out[i] = (x[i].isKnown() && x[i].value == 1) ? Dim(1) : Dim::unknown();
        ctx.setOutput(0, type, std::move(out));
        return Status::ok();
    }
    std::vector<bool> reduced(x.size(), false);
    for (int64_t axis : **axes) reduced[static_cast<size_t>(axis)] = true;
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
