// Tensor ops that rearrange or extend a tensor's layout: Transpose Pad Tile DepthToSpace SpaceToDepth.

#include <numeric>

#include "ir/ops/shape_infer_helpers.h"
#include "ir/ops/tensor_op_parts.h"

namespace kiln::tensorops {

using shapeinfer::checkIntVectorInput;
using shapeinfer::knownInts;
using shapeinfer::normalizeAxes;

namespace {

Dim scaleDim(const Dim& d, int64_t factor) {
    if (d.isKnown()) return d.value * factor;
    return factor == 1 ? d : Dim::unknown();
}

Status inferTranspose(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    int64_t rank = static_cast<int64_t>(in.size());
    std::vector<int64_t> perm = shapeinfer::transposePerm(ctx.attrs().getInts("perm"), in.size());
    if (static_cast<int64_t>(perm.size()) != rank)
        return ctx.error("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
    KILN_RETURN_IF_ERROR(normalizeAxes(ctx, perm, rank, "perm"));
    SymShape out;
    for (int64_t p : perm) out.push_back(in[static_cast<size_t>(p)]);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferPad(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    int64_t rank = static_cast<int64_t>(in.size());
    std::string mode = ctx.attrs().getString("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
        return ctx.error("mode '" + mode + "' is not one of constant, reflect, edge, wrap");
    KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 1, "pads"));
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("pads must be int64");
    if (ctx.hasInput(2)) {
        if (ctx.inputType(2) != ctx.inputType(0)) return ctx.error("constant_value must have the type of data");
        if (auto count = knownElementCount(ctx.inputShape(2)); !count || *count > 1)
            return ctx.error("constant_value must be a scalar");
    }
    std::optional<std::vector<int64_t>> axes;
    if (ctx.hasInput(3)) {
        KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 3, "axes"));
        axes = knownInts(ctx, 3);
        if (axes) KILN_RETURN_IF_ERROR(normalizeAxes(ctx, *axes, rank, "axes"));
    } else {
        axes.emplace(in.size());
        std::iota(axes->begin(), axes->end(), int64_t{0});
    }
    if (!axes) {
        ctx.setOutput(0, ctx.inputType(0), SymShape(in.size(), Dim::unknown()));
        return Status::ok();
    }
    SymShape out = in;
    auto pads = knownInts(ctx, 1);
    if (pads && pads->size() != 2 * axes->size())
        return ctx.error("pads has " + std::to_string(pads->size()) + " entries for " + std::to_string(axes->size()) +
                         " axes (it needs two per axis)");
    for (size_t i = 0; i < axes->size(); ++i) {
        Dim& d = out[static_cast<size_t>((*axes)[i])];
        if (!pads) {
            d = Dim::unknown();
            continue;
        }
        int64_t begin = (*pads)[i];
        int64_t end = (*pads)[i + axes->size()];
        if (!d.isKnown()) {
            if (begin != 0 || end != 0) d = Dim::unknown();
            continue;
        }
        if (d.value + begin + end < 0)
            return ctx.error("pads " + std::to_string(begin) + ", " + std::to_string(end) +
                             " remove more than extent " + std::to_string(d.value));
        if (mode != "constant" && d.value == 0 && (begin > 0 || end > 0))
            return ctx.error("cannot pad an empty axis in mode '" + mode + "'");
        d = d.value + begin + end;
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferTile(InferenceContext& ctx) {
    const SymShape& in = ctx.inputShape(0);
    KILN_RETURN_IF_ERROR(checkIntVectorInput(ctx, 1, "repeats"));
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("repeats must be int64");
    const Dim& length = ctx.inputShape(1)[0];
    if (length.isKnown() && length.value != static_cast<int64_t>(in.size()))
        return ctx.error("repeats has " + std::to_string(length.value) + " entries for rank " +
                         std::to_string(in.size()));
    SymShape out(in.size(), Dim::unknown());
    if (auto repeats = knownInts(ctx, 1)) {
        for (size_t i = 0; i < in.size(); ++i) {
            int64_t r = (*repeats)[i];
            if (r < 0) return ctx.error("repeats must not be negative");
            out[i] = r == 0 ? Dim(0) : scaleDim(in[i], r);
        }
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Expected<int64_t> blockSize(const InferenceContext& ctx) {
    if (ctx.inputRank(0) != 4) return ctx.error("input must be 4-D, got rank " + std::to_string(ctx.inputRank(0)));
    std::string mode = ctx.attrs().getString("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return ctx.error("mode '" + mode + "' is not DCR or CRD");
    auto size = ctx.attrs().getInt("blocksize");
    if (!size || *size < 1) return ctx.error("attribute 'blocksize' must be a positive integer");
    return *size;
}

// d / factor, failing when a known extent does not divide.
Expected<Dim> divideDim(const InferenceContext& ctx, const Dim& d, int64_t factor, const std::string& what) {
    if (d.isKnown()) {
        if (d.value % factor != 0)
            return ctx.error(what + " extent " + std::to_string(d.value) + " is not divisible by " +
                             std::to_string(factor));
        return Dim(d.value / factor);
    }
    return factor == 1 ? d : Dim::unknown();
}

Status inferDepthToSpace(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(int64_t b, blockSize(ctx));
    const SymShape& in = ctx.inputShape(0);
    KILN_ASSIGN_OR_RETURN(Dim channels, divideDim(ctx, in[1], b * b, "channel"));
    ctx.setOutput(0, ctx.inputType(0), {in[0], channels, scaleDim(in[2], b), scaleDim(in[3], b)});
    return Status::ok();
}

Status inferSpaceToDepth(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(int64_t b, blockSize(ctx));
    const SymShape& in = ctx.inputShape(0);
    KILN_ASSIGN_OR_RETURN(Dim height, divideDim(ctx, in[2], b, "height"));
    KILN_ASSIGN_OR_RETURN(Dim width, divideDim(ctx, in[3], b, "width"));
    ctx.setOutput(0, ctx.inputType(0), {in[0], scaleDim(in[1], b * b), height, width});
    return Status::ok();
}

}  // namespace

void registerLayoutOps(OpRegistry& registry) {
    registry.add({"Transpose", "", inferTranspose, 1, 1});
    registry.add({"Pad", "", inferPad, 2, 4});
    registry.add({"Tile", "", inferTile, 2, 2});
    registry.add({"DepthToSpace", "", inferDepthToSpace, 1, 1});
    registry.add({"SpaceToDepth", "", inferSpaceToDepth, 1, 1});
}

}  // namespace kiln::tensorops
