// Conv, ConvTranspose and DeformConv: type and shape inference.

#include <sstream>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/conv_window.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

/// The weights' spatial extents when all are known.
std::optional<Shape> knownKernel(const SymShape& weights) {
    Shape kernel;
    for (size_t i = 2; i < weights.size(); ++i) {
        if (!weights[i].isKnown()) return std::nullopt;
        kernel.push_back(weights[i].value);
    }
    return kernel;
}

/// Shared checks of X, W and the optional bias: floating types, matching ranks (>= 3).
Status checkConvInputs(const InferenceContext& ctx, int64_t& group) {
    DataType type = ctx.inputType(0);
    if (!isFloatingType(type))
        return ctx.error(std::string("input X has type ") + dataTypeName(type) +
                         "; float16, bfloat16, float or double are required");
    if (ctx.inputType(1) != type)
        return ctx.error(std::string("weights have type ") + dataTypeName(ctx.inputType(1)) + ", input X has " +
                         dataTypeName(type));
    const SymShape& x = ctx.inputShape(0);
    const SymShape& w = ctx.inputShape(1);
    if (x.size() < 3)
        return ctx.error("input X must have rank >= 3 (N x C x D1 ...), got shape " + symShapeToString(x));
    if (w.size() != x.size())
        return ctx.error("weights " + symShapeToString(w) + " must have the rank of input X " + symShapeToString(x));
    group = ctx.attrs().getInt("group", 1);
    if (group < 1) return ctx.error("attribute group must be >= 1, got " + std::to_string(group));
    if (ctx.hasInput(2)) {
        if (ctx.inputType(2) != type) return ctx.error("bias type differs from input X's");
        if (ctx.inputRank(2) != 1) return ctx.error("bias must be 1-D, got " + symShapeToString(ctx.inputShape(2)));
    }
    return Status::ok();
}

Status checkBias(const InferenceContext& ctx, const Dim& outputChannels) {
    if (!ctx.hasInput(2)) return Status::ok();
    const Dim& b = ctx.inputShape(2)[0];
    if (b.isKnown() && outputChannels.isKnown() && b.value != outputChannels.value)
        return ctx.error("bias has " + std::to_string(b.value) + " entries for " +
                         std::to_string(outputChannels.value) + " output channels");
    return Status::ok();
}

Status inferConv(InferenceContext& ctx) {
    int64_t group = 1;
    KILN_RETURN_IF_ERROR(checkConvInputs(ctx, group));
    const SymShape& x = ctx.inputShape(0);
    const SymShape& w = ctx.inputShape(1);
    const size_t n = x.size() - 2;
    auto spec = parseWindowSpec(ctx.attrs(), n, knownKernel(w), WindowKind::kConvolution);
    if (!spec) return ctx.error(spec.status().message());

    if (x[1].isKnown() && x[1].value % group != 0)
        return ctx.error("input channels " + std::to_string(x[1].value) + " are not divisible by group " +
                         std::to_string(group));
    if (x[1].isKnown() && w[1].isKnown() && x[1].value != w[1].value * group) {
        std::ostringstream oss;
        oss << "input X has " << x[1].value << " channels but the weights " << symShapeToString(w) << " with group "
            << group << " expect " << w[1].value * group;
        return ctx.error(oss.str());
    }
    if (w[0].isKnown() && w[0].value % group != 0)
        return ctx.error("output channels " + std::to_string(w[0].value) + " are not divisible by group " +
                         std::to_string(group));
    KILN_RETURN_IF_ERROR(checkBias(ctx, w[0]));

    SymShape out{x[0], w[0]};
    for (size_t i = 0; i < n; ++i) {
        if (spec->kernel.empty()) {
            out.push_back(Dim::unknown());
        } else if (x[2 + i].isKnown()) {
            AxisWindow window = forwardWindow(*spec, i, x[2 + i].value);
            if (window.output < 1) {
                std::ostringstream oss;
                oss << "spatial axis " << i << " of extent " << x[2 + i].value << " is smaller than the kernel ("
                    << spec->effectiveKernel(i) << " with dilation) after padding";
                return ctx.error(oss.str());
            }
            out.emplace_back(window.output);
        } else {
            out.push_back(forwardWindowPreservesExtent(*spec, i) ? x[2 + i] : Dim::unknown());
        }
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferConvTranspose(InferenceContext& ctx) {
    int64_t group = 1;
    KILN_RETURN_IF_ERROR(checkConvInputs(ctx, group));
    const SymShape& x = ctx.inputShape(0);
    const SymShape& w = ctx.inputShape(1);
    const size_t n = x.size() - 2;
    auto spec = parseWindowSpec(ctx.attrs(), n, knownKernel(w), WindowKind::kConvolution);
    if (!spec) return ctx.error(spec.status().message());
    auto transpose = parseTransposeSpec(ctx.attrs(), *spec);
    if (!transpose) return ctx.error(transpose.status().message());

    if (x[1].isKnown() && x[1].value % group != 0)
        return ctx.error("input channels " + std::to_string(x[1].value) + " are not divisible by group " +
                         std::to_string(group));
    if (x[1].isKnown() && w[0].isKnown() && x[1].value != w[0].value) {
        std::ostringstream oss;
        oss << "input X has " << x[1].value << " channels but the weights " << symShapeToString(w)
            << " (C x M/group x k...) expect " << w[0].value;
        return ctx.error(oss.str());
    }
    Dim outputChannels = w[1].isKnown() ? Dim(w[1].value * group) : Dim::unknown();
    KILN_RETURN_IF_ERROR(checkBias(ctx, outputChannels));

    SymShape out{x[0], outputChannels};
    for (size_t i = 0; i < n; ++i) {
        if (transpose->outputShape) {
            out.emplace_back((*transpose->outputShape)[i]);
        } else if (!spec->kernel.empty() && x[2 + i].isKnown()) {
            AxisWindow window = transposeWindow(*spec, *transpose, i, x[2 + i].value);
            if (window.output < 1)
                return ctx.error("spatial axis " + std::to_string(i) + " would have a non-positive extent " +
                                 std::to_string(window.output) + " (pads larger than the result)");
            out.emplace_back(window.output);
        } else {
            out.push_back(Dim::unknown());
        }
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

/// Checks that input `index` (`what`) is (N, channels, out...) where known; `channels` is what the
/// offset groups and the kernel taps ask for.
Status checkPerTapInput(const InferenceContext& ctx, size_t index, const std::string& what, const SymShape& out,
                        const Dim& channels) {
    const SymShape& shape = ctx.inputShape(index);
    if (ctx.inputType(index) != ctx.inputType(0)) return ctx.error(what + " type differs from input X's");
    auto mismatch = [&](const Dim& have, const Dim& want) {
        return have.isKnown() && want.isKnown() && have.value != want.value;
    };
    bool bad = shape.size() != out.size() || mismatch(shape[0], out[0]) || mismatch(shape[1], channels);
    for (size_t i = 2; !bad && i < out.size(); ++i) bad = mismatch(shape[i], out[i]);
    if (!bad) return Status::ok();
    SymShape expected = out;
    expected[1] = channels;
    return ctx.error(what + " has shape " + symShapeToString(shape) + "; expected " + symShapeToString(expected));
}

/// DeformConv: Conv whose kernel taps sample X at learned fractional offsets (input 2), each tap
/// scaled by an optional mask (input 4); the bias is input 3.
Status inferDeformConv(InferenceContext& ctx) {
    const DataType type = ctx.inputType(0);
    if (!isFloatingType(type))
        return ctx.error(std::string("input X has type ") + dataTypeName(type) +
                         "; float16, bfloat16, float or double are required");
    if (ctx.inputType(1) != type) return ctx.error("weights type differs from input X's");
    const SymShape& x = ctx.inputShape(0);
    const SymShape& w = ctx.inputShape(1);
    if (x.size() < 3)
        return ctx.error("input X must have rank >= 3 (N x C x D1 ...), got shape " + symShapeToString(x));
    if (w.size() != x.size())
        return ctx.error("weights " + symShapeToString(w) + " must have the rank of input X " + symShapeToString(x));
    const int64_t group = ctx.attrs().getInt("group", 1);
    const int64_t offsetGroup = ctx.attrs().getInt("offset_group", 1);
    if (group < 1 || offsetGroup < 1) return ctx.error("attributes group and offset_group must be >= 1");
    const size_t n = x.size() - 2;
    auto spec = parseWindowSpec(ctx.attrs(), n, knownKernel(w), WindowKind::kConvolution);
    if (!spec) return ctx.error(spec.status().message());
    if (spec->autoPad != AutoPad::kNotSet) return ctx.error("DeformConv has no auto_pad; give pads");
    if (x[1].isKnown()) {
        if (x[1].value % group != 0 || x[1].value % offsetGroup != 0)
            return ctx.error("input channels " + std::to_string(x[1].value) + " are not divisible by group " +
                             std::to_string(group) + " and offset_group " + std::to_string(offsetGroup));
        if (w[1].isKnown() && x[1].value != w[1].value * group)
            return ctx.error("input X has " + std::to_string(x[1].value) + " channels but the weights " +
                             symShapeToString(w) + " with group " + std::to_string(group) + " expect " +
                             std::to_string(w[1].value * group));
    }
    if (w[0].isKnown() && w[0].value % group != 0)
        return ctx.error("output channels " + std::to_string(w[0].value) + " are not divisible by group " +
                         std::to_string(group));
    if (ctx.hasInput(3)) {
        if (ctx.inputType(3) != type || ctx.inputRank(3) != 1) return ctx.error("bias B must be 1-D of X's type");
        const Dim& b = ctx.inputShape(3)[0];
        if (b.isKnown() && w[0].isKnown() && b.value != w[0].value)
            return ctx.error("bias has " + std::to_string(b.value) + " entries for " + std::to_string(w[0].value) +
                             " output channels");
    }
    const SymShape& offset = ctx.inputShape(2);
    SymShape out{x[0], w[0]};
    for (size_t i = 0; i < n; ++i) {
        if (!spec->kernel.empty() && x[2 + i].isKnown()) {
            AxisWindow window = forwardWindow(*spec, i, x[2 + i].value);
            if (window.output < 1)
                return ctx.error("spatial axis " + std::to_string(i) + " of extent " + std::to_string(x[2 + i].value) +
                                 " is smaller than the kernel after padding");
            out.emplace_back(window.output);
        } else {
            out.push_back(offset.size() == x.size() ? offset[2 + i] : Dim::unknown());
        }
    }
    Dim taps = Dim::unknown();
    if (!spec->kernel.empty()) taps = Dim(offsetGroup * shapeElementCount(spec->kernel));
    KILN_RETURN_IF_ERROR(checkPerTapInput(ctx, 2, "offset", out,
                                          taps.isKnown() ? Dim(taps.value * static_cast<int64_t>(n)) : Dim::unknown()));
    if (ctx.hasInput(4)) KILN_RETURN_IF_ERROR(checkPerTapInput(ctx, 4, "mask", out, taps));
    ctx.setOutput(0, type, std::move(out));
    return Status::ok();
}

}  // namespace

void registerConvOps(OpRegistry& registry) {
    registry.add({"Conv", "", inferConv, 2, 3});
    registry.add({"ConvTranspose", "", inferConvTranspose, 2, 3});
    registry.add({"DeformConv", "", inferDeformConv, 3, 5});
}

}  // namespace kiln
