// Tensor (data movement) ops, general part: Identity Dropout Concat Split Trilu CumSum CumProd
// ReverseSequence.
// The indexing and layout parts live in tensor_indexing.cpp and tensor_layout.cpp.

#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"
#include "ir/ops/tensor_op_parts.h"

namespace kiln {

using shapeinfer::checkIntVectorInput;
using shapeinfer::checkScalarInput;
using shapeinfer::dimSum;
using shapeinfer::knownInts;
using shapeinfer::mergeEqualDims;

namespace {

Status inferIdentity(InferenceContext& ctx) {
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    ctx.setContainerOutput(0, ctx.inputContainer(0));  // a sequence's or optional's handle passes through
    return Status::ok();
}

Status inferDropout(InferenceContext& ctx) {
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("data must be a floating-point tensor");
    if (ctx.hasInput(1)) {
        KILN_RETURN_IF_ERROR(checkScalarInput(ctx, 1, "ratio"));
        if (!isFloatingType(ctx.inputType(1))) return ctx.error("ratio must be floating-point");
    }
    if (ctx.hasInput(2)) {
        KILN_RETURN_IF_ERROR(checkScalarInput(ctx, 2, "training_mode"));
        if (ctx.inputType(2) != DataType::kBOOL) return ctx.error("training_mode must be bool");
    }
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    if (ctx.numOutputs() > 1) ctx.setOutput(1, DataType::kBOOL, ctx.inputShape(0));
    return Status::ok();
}

Status inferConcat(InferenceContext& ctx) {
    auto axisAttr = ctx.attrs().getInt("axis");
    if (!axisAttr) return ctx.error("attribute 'axis' is required");
    for (size_t i = 0; i < ctx.numInputs(); ++i)
        if (!ctx.hasInput(i)) return ctx.error("input " + std::to_string(i) + " is missing");
    int64_t rank = ctx.inputRank(0);
    auto axis = normalizeAxis(*axisAttr, rank);
    if (!axis)
        return ctx.error("axis " + std::to_string(*axisAttr) + " is out of range for rank " + std::to_string(rank));
    SymShape out = ctx.inputShape(0);
    std::vector<Dim> axisDims;
    for (size_t i = 0; i < ctx.numInputs(); ++i) {
        const SymShape& shape = ctx.inputShape(i);
        if (ctx.inputType(i) != ctx.inputType(0)) return ctx.error("inputs have different types");
        if (static_cast<int64_t>(shape.size()) != rank) return ctx.error("inputs have different ranks");
        for (size_t d = 0; d < shape.size(); ++d) {
            if (static_cast<int64_t>(d) == *axis) continue;
            auto merged = mergeEqualDims(out[d], shape[d]);
            if (!merged)
                return ctx.error("input " + std::to_string(i) + " of shape " + symShapeToString(shape) +
                                 " does not match the other inputs off the concat axis");
            out[d] = *merged;
        }
        axisDims.push_back(shape[static_cast<size_t>(*axis)]);
    }
    out[static_cast<size_t>(*axis)] = dimSum(axisDims);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferSplit(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    int64_t rank = static_cast<int64_t>(in.size());
    int64_t axisAttr = ctx.attrs().getInt("axis", 0);
    auto axis = normalizeAxis(axisAttr, rank);
    if (!axis)
        return ctx.error("axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(rank));
    const Dim& dim = in[static_cast<size_t>(*axis)];
    int64_t numOutputs = static_cast<int64_t>(ctx.numOutputs());
    std::vector<Dim> sizes(static_cast<size_t>(numOutputs), Dim::unknown());
    auto numOutputsAttr = ctx.attrs().getInt("num_outputs");
    if (ctx.hasInput(1)) {
        if (numOutputsAttr) return ctx.error("input 'split' and attribute 'num_outputs' are both given");
        KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 1, "split"));
        if (auto split = knownInts(ctx, 1)) {
            if (static_cast<int64_t>(split->size()) != numOutputs)
                return ctx.error("split has " + std::to_string(split->size()) + " entries for " +
                                 std::to_string(numOutputs) + " outputs");
            int64_t total = 0;
            for (size_t i = 0; i < split->size(); ++i) {
                if ((*split)[i] < 0) return ctx.error("split sizes must not be negative");
                sizes[i] = (*split)[i];
                total += (*split)[i];
            }
            if (dim.isKnown() && total != dim.value)
                return ctx.error("split sizes sum to " + std::to_string(total) + " but the axis has extent " +
                                 std::to_string(dim.value));
        }
    } else {
        if (numOutputsAttr && *numOutputsAttr != numOutputs)
            return ctx.error("num_outputs is " + std::to_string(*numOutputsAttr) + " but the node has " +
                             std::to_string(numOutputs) + " outputs");
        if (numOutputs == 1) {
            sizes[0] = dim;
        } else if (dim.isKnown()) {
            // Equal chunks of ceil(extent / n); the last takes the remainder (opset 18's rule, which
            // agrees with older opsets' "evenly divisible" split where that holds).
            int64_t chunk = (dim.value + numOutputs - 1) / numOutputs;
            int64_t last = dim.value - chunk * (numOutputs - 1);
            if (last < 0)
                return ctx.error("cannot split extent " + std::to_string(dim.value) + " into " +
                                 std::to_string(numOutputs) + " chunks of " + std::to_string(chunk));
            for (int64_t i = 0; i < numOutputs; ++i) sizes[static_cast<size_t>(i)] = i + 1 < numOutputs ? chunk : last;
        }
    }
    for (size_t i = 0; i < sizes.size(); ++i) {
        SymShape out = in;
        out[static_cast<size_t>(*axis)] = sizes[i];
        ctx.setOutput(i, ctx.inputType(0), std::move(out));
    }
    return Status::ok();
}

Status inferTrilu(InferenceContext& ctx) {
    if (ctx.inputRank(0) < 2) return ctx.error("input must have rank >= 2, got " + std::to_string(ctx.inputRank(0)));
    if (ctx.hasInput(1)) {
        KILN_RETURN_IF_ERROR(checkScalarInput(ctx, 1, "k"));
        if (ctx.inputType(1) != DataType::kINT64) return ctx.error("k must be int64");
    }
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

Status inferCumSum(InferenceContext& ctx) {
    DataType type = ctx.inputType(0);
    if (type == DataType::kBOOL || type == DataType::kINT8 || type == DataType::kUINT8 || type == DataType::kINT16 ||
        type == DataType::kUINT16)
        return ctx.error(std::string("type ") + dataTypeName(type) + " is not allowed");
    KILN_RETURN_IF_ERROR(checkScalarInput(ctx, 1, "axis"));
    if (ctx.inputType(1) != DataType::kINT32 && ctx.inputType(1) != DataType::kINT64)
        return ctx.error("axis must be int32 or int64");
    if (auto axis = knownInts(ctx, 1); axis && !normalizeAxis((*axis)[0], ctx.inputRank(0)))
        return ctx.error("axis " + std::to_string((*axis)[0]) + " is out of range for rank " +
                         std::to_string(ctx.inputRank(0)));
    ctx.setOutput(0, type, ctx.inputShape(0));
    return Status::ok();
}

Status inferReverseSequence(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    if (in.size() < 2) return ctx.error("input must have rank >= 2");
    int64_t batchAxis = ctx.attrs().getInt("batch_axis", 1);
    int64_t timeAxis = ctx.attrs().getInt("time_axis", 0);
    if ((batchAxis != 0 && batchAxis != 1) || (timeAxis != 0 && timeAxis != 1) || batchAxis == timeAxis)
        return ctx.error("batch_axis and time_axis must be 0 and 1 in some order");
    KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 1, "sequence_lens"));
    if (!mergeEqualDims(ctx.inputShape(1)[0], in[static_cast<size_t>(batchAxis)]))
        return ctx.error("sequence_lens has " + ctx.inputShape(1)[0].toString() + " entries for a batch of " +
                         in[static_cast<size_t>(batchAxis)].toString());
    ctx.setOutput(0, ctx.inputType(0), in);
    return Status::ok();
}

}  // namespace

void registerTensorOps(OpRegistry& registry) {
    OpSchema identity{"Identity", "", inferIdentity, 1, 1};
    identity.nonTensorValues = true;
    registry.add(std::move(identity));
    // Inference-mode Dropout is an identity; a training-mode one is refused by the kernel.
    registry.add({"Dropout", "", inferDropout, 1, 3, true, 1});
    registry.add({"Concat", "", inferConcat, 1, SIZE_MAX});
    registry.add({"Split", "", inferSplit, 1, 2});
    registry.add({"Trilu", "", inferTrilu, 1, 2});
    registry.add({"CumSum", "", inferCumSum, 2, 2});
    registry.add({"CumProd", "", inferCumSum, 2, 2});  // opset 26: CumSum's inputs, attributes and types
    registry.add({"ReverseSequence", "", inferReverseSequence, 2, 2});
    tensorops::registerIndexingOps(registry);
    tensorops::registerLayoutOps(registry);
}

}  // namespace kiln
