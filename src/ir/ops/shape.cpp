// Shape-computing ops: Shape Size Reshape Flatten Squeeze Unsqueeze Expand ConstantOfShape Range EyeLike.
// These decide the static shapes of a model: a Reshape or Expand whose shape input is computed from
// Shape -> Gather -> Concat gets static dims only when every step keeps values and symbols flowing.

#include <algorithm>
#include <cmath>
#include <map>

#include "ir/onnx_types.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

using shapeinfer::checkIntVectorInput;
using shapeinfer::checkScalarInput;
using shapeinfer::dimProduct;
using shapeinfer::knownInts;
using shapeinfer::normalizeAxes;
using shapeinfer::shapeOpRange;

namespace {

Status inferShapeOp(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    const auto [start, end] = shapeOpRange(ctx.attrs(), static_cast<int64_t>(in.size()));
    int64_t count = std::max<int64_t>(end - start, 0);
    ctx.setOutput(0, DataType::kINT64, {count});
    std::vector<int64_t> dims;
    for (int64_t i = start; i < start + count; ++i) {
        if (!in[static_cast<size_t>(i)].isKnown()) return Status::ok();
        dims.push_back(in[static_cast<size_t>(i)].value);
    }
    ctx.setOutputValue(0, Tensor::fromInt64(dims, {count}));
    return Status::ok();
}

Status inferSize(InferenceContext& ctx) {
    ctx.setOutput(0, DataType::kINT64, {});
    if (auto count = knownElementCount(ctx.inputShape(0))) ctx.setOutputValue(0, Tensor::fromInt64({*count}, {}));
    return Status::ok();
}

// The -1 entry of a Reshape: elements(input) / product(other output dims), with named symbols that
// appear on both sides cancelled, so (batch, 12, 64) -> (0, -1) gives 768 beside the copied "batch".
Expected<Dim> inferReshapeWildcard(const InferenceContext& ctx, const SymShape& in, const SymShape& out,
                                   size_t wildcard) {
    int64_t numKnown = 1;
    int64_t denKnown = 1;
    std::map<std::string, int64_t> symbols;  // numerator count minus denominator count
    bool unnamed = false;
    for (const Dim& d : in) {
        if (d.isKnown())
            numKnown *= d.value;
        else if (d.symbol.empty())
            unnamed = true;
        else
            ++symbols[d.symbol];
    }
    for (size_t i = 0; i < out.size(); ++i) {
        if (i == wildcard) continue;
        const Dim& d = out[i];
        if (d.isKnown())
            denKnown *= d.value;
        else if (d.symbol.empty())
            unnamed = true;
        else
            --symbols[d.symbol];
    }
    if (denKnown == 0) return ctx.error("cannot infer the -1 entry of the shape: the other output dims multiply to 0");
    std::vector<std::string> left;
    for (const auto& [name, count] : symbols) {
        if (count < 0) return Dim::unknown();
        for (int64_t k = 0; k < count; ++k) left.push_back(name);
    }
    if (unnamed) return Dim::unknown();
    if (left.empty()) {
        if (numKnown % denKnown != 0)
            return ctx.error("input of shape " + symShapeToString(in) + " cannot be reshaped to " +
                             symShapeToString(out) + ": its element count is not divisible by the known output dims");
        return Dim(numKnown / denKnown);
    }
    if (left.size() == 1 && numKnown == denKnown) return Dim::named(left.front());
    return Dim::unknown();
}

Status inferReshape(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("shape input must be int64");
    if (ctx.inputRank(1) != 1) return ctx.error("shape input must be 1-D");
    bool allowZero = ctx.attrs().getInt("allowzero", 0) != 0;
    auto target = knownInts(ctx, 1);
    if (!target) {
        const Dim& length = ctx.inputShape(1)[0];
        if (!length.isKnown())
            return unsupported(ctx.node().describe() +
                               ": the output rank is unknown (the shape input's length is not known at build time)");
        ctx.setOutput(0, ctx.inputType(0), SymShape(static_cast<size_t>(length.value), Dim::unknown()));
        return Status::ok();
    }
    SymShape out(target->size());
    std::optional<size_t> wildcard;
    bool hasZero = false;
    for (size_t i = 0; i < target->size(); ++i) {
        int64_t v = (*target)[i];
        if (v == -1) {
            if (wildcard) return ctx.error("shape contains more than one -1");
            wildcard = i;
        } else if (v < -1) {
            return ctx.error("shape entry " + std::to_string(v) + " is invalid");
        } else if (v == 0 && !allowZero) {
            if (i >= in.size())
                return ctx.error("shape entry " + std::to_string(i) +
                                 " is 0 (copy the input dim) but the input has rank " + std::to_string(in.size()));
            out[i] = in[i];
        } else {
            out[i] = v;
            hasZero = hasZero || v == 0;
        }
    }
    if (wildcard) {
        if (hasZero) return ctx.error("with allowzero=1 the shape may not contain both 0 and -1");
        KILN_ASSIGN_OR_RETURN(out[*wildcard], inferReshapeWildcard(ctx, in, out, *wildcard));
    } else {
        auto inCount = knownElementCount(in);
        auto outCount = knownElementCount(out);
        if (inCount && outCount && *inCount != *outCount)
            return ctx.error("cannot reshape " + symShapeToString(in) + " to " + symShapeToString(out));
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferFlatten(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    int64_t rank = static_cast<int64_t>(in.size());
    int64_t axis = ctx.attrs().getInt("axis", 1);
    if (axis < -rank || axis > rank)
        return ctx.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    if (axis < 0) axis += rank;
    ctx.setOutput(0, ctx.inputType(0),
                  {dimProduct(in, 0, static_cast<size_t>(axis)), dimProduct(in, static_cast<size_t>(axis), in.size())});
    return Status::ok();
}

/// How many axes input 1 lists, from its shape (a scalar counts one).
Dim axesCount(const InferenceContext& ctx) {
    const SymShape& shape = ctx.inputShape(1);
    return shape.empty() ? Dim(1) : shape[0];
}

Status inferSqueeze(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    int64_t rank = static_cast<int64_t>(in.size());
    std::vector<bool> removed(in.size(), false);
    if (ctx.hasInput(1)) {
        KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 1, "axes", true));
        auto axes = knownInts(ctx, 1);
        if (!axes) {
            // Axes computed at run time: the rank is known from their count, the extents once the
            // runtime re-infers the node with the values.
            const Dim count = axesCount(ctx);
            if (!count.isKnown() || count.value > rank)
                return unsupported(ctx.node().describe() + ": axes of unknown length: the output rank would be unknown");
            ctx.setOutput(0, ctx.inputType(0), SymShape(static_cast<size_t>(rank - count.value), Dim::unknown()));
            return Status::ok();
        }
        KILN_RETURN_IF_ERROR(normalizeAxes(ctx, *axes, rank, "axes"));
        for (int64_t axis : *axes) {
            const Dim& d = in[static_cast<size_t>(axis)];
            // A symbolic dim is taken to be 1 here; run-time inference sees the real extent.
            if (d.isKnown() && d.value != 1)
                return ctx.error("cannot squeeze axis " + std::to_string(axis) + " of extent " +
                                 std::to_string(d.value));
            removed[static_cast<size_t>(axis)] = true;
        }
    } else {
        for (size_t i = 0; i < in.size(); ++i) {
            if (!in[i].isKnown())
                return unsupported(ctx.node().describe() + ": Squeeze without axes on dim " + std::to_string(i) + " '" +
                                   in[i].toString() +
                                   "' that is not known at build time: the output rank would be unknown");
            removed[i] = in[i].value == 1;
        }
    }
    SymShape out;
    for (size_t i = 0; i < in.size(); ++i)
        if (!removed[i]) out.push_back(in[i]);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferUnsqueeze(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 1, "axes", true));
    auto axes = knownInts(ctx, 1);
    if (!axes) {
        const Dim count = axesCount(ctx);  // axes computed at run time: see Squeeze
        if (!count.isKnown())
            return unsupported(ctx.node().describe() + ": axes of unknown length: the output rank would be unknown");
        ctx.setOutput(0, ctx.inputType(0), SymShape(in.size() + static_cast<size_t>(count.value), Dim::unknown()));
        return Status::ok();
    }
    int64_t outRank = static_cast<int64_t>(in.size() + axes->size());
    KILN_RETURN_IF_ERROR(normalizeAxes(ctx, *axes, outRank, "axes"));
    std::vector<bool> inserted(static_cast<size_t>(outRank), false);
    for (int64_t axis : *axes) inserted[static_cast<size_t>(axis)] = true;
    SymShape out;
    size_t next = 0;
    for (int64_t i = 0; i < outRank; ++i) out.push_back(inserted[static_cast<size_t>(i)] ? Dim(1) : in[next++]);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferExpand(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("shape input must be int64");
    if (ctx.inputRank(1) != 1) return ctx.error("shape input must be 1-D");
    if (auto target = knownInts(ctx, 1)) {
        for (int64_t v : *target)
            if (v < 0) return ctx.error("shape entry " + std::to_string(v) + " is negative");
        auto out = broadcastShapes(in, fromConcrete(*target));
        if (!out)
            return ctx.error("cannot broadcast input " + symShapeToString(in) + " to shape " +
                             shapeToString(*target, true));
        ctx.setOutput(0, ctx.inputType(0), std::move(*out));
        return Status::ok();
    }
    const Dim& length = ctx.inputShape(1)[0];
    if (!length.isKnown())
        return unsupported(ctx.node().describe() +
                           ": the output rank is unknown (the shape input's length is not known at build time)");
    size_t rank = std::max(in.size(), static_cast<size_t>(length.value));
    SymShape out(rank, Dim::unknown());
    // A known input extent other than 1 survives any valid broadcast; everything else depends on
    // the unknown shape values.
    for (size_t i = 0; i < in.size(); ++i) {
        const Dim& d = in[i];
        if (d.isKnown() && d.value != 1) out[rank - in.size() + i] = d;
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferConstantOfShape(InferenceContext& ctx) {
    DataType type = DataType::kFLOAT;
    if (ctx.attrs().has("value")) {
        const Tensor* value = ctx.attrs().getTensor("value");
        if (!value || value->elementCount() != 1) return ctx.error("attribute 'value' must be a one-element tensor");
        type = value->dtype();
    }
    if (ctx.inputType(0) != DataType::kINT64) return ctx.error("input must be int64");
    if (ctx.inputRank(0) != 1) return ctx.error("input must be 1-D");
    if (auto dims = knownInts(ctx, 0)) {
        for (int64_t v : *dims)
            if (v < 0) return ctx.error("shape entry " + std::to_string(v) + " is negative");
        ctx.setOutput(0, type, fromConcrete(*dims));
        return Status::ok();
    }
    const Dim& length = ctx.inputShape(0)[0];
    if (!length.isKnown())
        return unsupported(ctx.node().describe() +
                           ": the output rank is unknown (the shape input's length is not known at build time)");
    ctx.setOutput(0, type, SymShape(static_cast<size_t>(length.value), Dim::unknown()));
    return Status::ok();
}

bool isRangeType(DataType type) {
    switch (type) {
        case DataType::kFLOAT:
        case DataType::kHALF:
        case DataType::kBF16:
        case DataType::kDOUBLE:
        case DataType::kINT16:
        case DataType::kINT32:
        case DataType::kINT64:
            return true;
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kUINT16:
        case DataType::kUINT32:
        case DataType::kUINT64:
        case DataType::kBOOL:
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
        case DataType::kINT4:
        case DataType::kUINT4:
        case DataType::kINT2:
        case DataType::kUINT2:
        case DataType::kFP4E2M1:
        case DataType::kSTRING:
            return false;
    }
    return false;
}

Status inferRange(InferenceContext& ctx) {
    DataType type = ctx.inputType(0);
    if (!isRangeType(type)) return ctx.error(std::string("type ") + dataTypeName(type) + " is not allowed");
    for (size_t i = 0; i < 3; ++i) {
        if (ctx.inputType(i) != type) return ctx.error("start, limit and delta must have the same type");
        KILN_RETURN_IF_ERROR(checkScalarInput(ctx, i, i == 0 ? "start" : i == 1 ? "limit" : "delta"));
    }
    Dim count = Dim::unknown();
    const Tensor* start = ctx.inputValue(0);
    const Tensor* limit = ctx.inputValue(1);
    const Tensor* delta = ctx.inputValue(2);
    if (start && limit && delta) {
        if (delta->elementAsDouble(0) == 0) return ctx.error("delta is 0");
        if (isFloatingType(type)) {
            double n = std::ceil((limit->elementAsDouble(0) - start->elementAsDouble(0)) / delta->elementAsDouble(0));
            count = static_cast<int64_t>(std::max(n, 0.0));
        } else {
            int64_t s = start->toInt64Vector()[0];
            int64_t l = limit->toInt64Vector()[0];
            int64_t d = delta->toInt64Vector()[0];
            // ceil((l - s) / d) in integers, for either sign of d.
            int64_t span = l - s;
            int64_t n = span / d + ((span % d != 0 && ((span < 0) == (d < 0))) ? 1 : 0);
            count = std::max<int64_t>(n, 0);
        }
    }
    ctx.setOutput(0, type, {count});
    return Status::ok();
}

Status inferEyeLike(InferenceContext& ctx) {
    if (ctx.inputRank(0) != 2) return ctx.error("input must be 2-D, got rank " + std::to_string(ctx.inputRank(0)));
    DataType type = ctx.inputType(0);
    if (auto code = ctx.attrs().getInt("dtype")) {
        auto parsed = dataTypeFromOnnx(*code);
        if (!parsed) return ctx.error("attribute dtype " + std::to_string(*code) + " is not a supported type");
        type = *parsed;
    }
    if (type == DataType::kSTRING || ctx.inputType(0) == DataType::kSTRING)
        return ctx.error("EyeLike takes and makes numbers or bools, not strings");
    ctx.setOutput(0, type, ctx.inputShape(0));
    return Status::ok();
}

}  // namespace

void registerShapeOps(OpRegistry& registry) {
    registry.add({"Shape", "", inferShapeOp, 1, 1});
    registry.add({"Size", "", inferSize, 1, 1});
    registry.add({"Reshape", "", inferReshape, 2, 2});
    registry.add({"Flatten", "", inferFlatten, 1, 1});
    registry.add({"Squeeze", "", inferSqueeze, 1, 2});
    registry.add({"Unsqueeze", "", inferUnsqueeze, 2, 2});
    registry.add({"Expand", "", inferExpand, 2, 2});
    registry.add({"ConstantOfShape", "", inferConstantOfShape, 1, 1});
    registry.add({"Range", "", inferRange, 3, 3});
    registry.add({"EyeLike", "", inferEyeLike, 1, 1});
}

}  // namespace kiln
