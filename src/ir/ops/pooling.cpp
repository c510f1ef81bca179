// MaxPool, AveragePool, LpPool, their global forms and MaxUnpool: type and shape inference; and
// kiln::ChannelsLastPool, MaxPool or AveragePool over NHWC (ir/ops/layout_attributes.h), inferred as
// the named op on the NCHW view of its input.

#include <sstream>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/channels_last_perm.h"
#include "ir/ops/conv_window.h"
#include "ir/ops/layout_attributes.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

Status checkPoolInput(const InferenceContext& ctx, bool allowInt8, size_t minRank) {
    DataType type = ctx.inputType(0);
    bool ok = isFloatingType(type) || (allowInt8 && (type == DataType::kINT8 || type == DataType::kUINT8));
    if (!ok)
        return ctx.error(std::string("input type ") + dataTypeName(type) + " is not supported (float16, bfloat16, " +
                         "float, double" + (allowInt8 ? ", int8, uint8" : "") + ")");
    if (ctx.inputShape(0).size() < minRank)
        return ctx.error("input must have rank >= " + std::to_string(minRank) + " (N x C x D1 ...), got shape " +
                         symShapeToString(ctx.inputShape(0)));
    return Status::ok();
}

Status checkOutputCount(const InferenceContext& ctx, size_t maxOutputs) {
    if (ctx.numOutputs() < 1 || ctx.numOutputs() > maxOutputs)
        return ctx.error("has " + std::to_string(ctx.numOutputs()) + " outputs, expected 1.." +
                         std::to_string(maxOutputs));
    return Status::ok();
}

/// The windowed output shape: N and C kept, each spatial axis by the window rules.
Expected<SymShape> windowedShape(const InferenceContext& ctx) {
    const SymShape& x = ctx.inputShape(0);
    const size_t n = x.size() - 2;
    auto spec = parseWindowSpec(ctx.attrs(), n, std::nullopt, WindowKind::kPooling);
    if (!spec) return ctx.error(spec.status().message());
    SymShape out{x[0], x[1]};
    for (size_t i = 0; i < n; ++i) {
        if (x[2 + i].isKnown()) {
            AxisWindow window = forwardWindow(*spec, i, x[2 + i].value);
            if (window.output < 1) {
                std::ostringstream oss;
                oss << "spatial axis " << i << " of extent " << x[2 + i].value << " is smaller than the window ("
                    << spec->effectiveKernel(i) << " with dilation) after padding";
                return ctx.error(oss.str());
            }
            out.emplace_back(window.output);
        } else {
            out.push_back(forwardWindowPreservesExtent(*spec, i) ? x[2 + i] : Dim::unknown());
        }
    }
    return out;
}

Status inferMaxPool(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkPoolInput(ctx, true, 3));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 2));
    int64_t storageOrder = ctx.attrs().getInt("storage_order", 0);
    if (storageOrder != 0 && storageOrder != 1) return ctx.error("attribute storage_order must be 0 or 1");
    KILN_ASSIGN_OR_RETURN(SymShape out, windowedShape(ctx));
    if (ctx.numOutputs() > 1) ctx.setOutput(1, DataType::kINT64, out);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferAveragePool(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkPoolInput(ctx, false, 3));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    int64_t countIncludePad = ctx.attrs().getInt("count_include_pad", 0);
    if (countIncludePad != 0 && countIncludePad != 1) return ctx.error("attribute count_include_pad must be 0 or 1");
    KILN_ASSIGN_OR_RETURN(SymShape out, windowedShape(ctx));
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status checkP(const InferenceContext& ctx) {
    int64_t p = ctx.attrs().getInt("p", 2);
    if (p < 1) return ctx.error("attribute p must be >= 1, got " + std::to_string(p));
    return Status::ok();
}

Status inferLpPool(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkPoolInput(ctx, false, 3));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    KILN_RETURN_IF_ERROR(checkP(ctx));
    KILN_ASSIGN_OR_RETURN(SymShape out, windowedShape(ctx));
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

/// Global pooling keeps N and C and makes every spatial extent 1.
Status inferGlobalPool(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkPoolInput(ctx, false, 2));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    if (ctx.node().opType == "GlobalLpPool") KILN_RETURN_IF_ERROR(checkP(ctx));
    SymShape out = ctx.inputShape(0);
    for (size_t i = 2; i < out.size(); ++i) out[i] = Dim(1);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

/// MaxUnpool scatters X into a tensor of the pooling input's shape: the unpool extents, or the
/// output_shape input, which may only add zeros at the end of each spatial axis (ONNX's reference
/// writes the unpooled tensor into its leading corner).
Status inferMaxUnpool(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkPoolInput(ctx, false, 3));
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    const SymShape& x = ctx.inputShape(0);
    const SymShape& indices = ctx.inputShape(1);
    if (ctx.inputType(1) != DataType::kINT64) return ctx.error("indices I must be int64");
    if (indices.size() != x.size())
        return ctx.error("indices I " + symShapeToString(indices) + " must have the shape of X " + symShapeToString(x));
    for (size_t i = 0; i < x.size(); ++i)
        if (x[i].isKnown() && indices[i].isKnown() && x[i].value != indices[i].value)
            return ctx.error("indices I " + symShapeToString(indices) + " must have the shape of X " +
                             symShapeToString(x));
    const size_t n = x.size() - 2;
    auto spec = parseWindowSpec(ctx.attrs(), n, std::nullopt, WindowKind::kPooling);
    if (!spec) return ctx.error(spec.status().message());
    SymShape unpooled{x[0], x[1]};
    for (size_t i = 0; i < n; ++i) {
        if (!x[2 + i].isKnown()) {
            unpooled.push_back(Dim::unknown());
            continue;
        }
        const int64_t extent = unpoolExtent(*spec, i, x[2 + i].value);
        if (extent < 1)
            return ctx.error("spatial axis " + std::to_string(i) + " unpools to the non-positive extent " +
                             std::to_string(extent));
        unpooled.emplace_back(extent);
    }
    if (!ctx.hasInput(2)) {
        ctx.setOutput(0, ctx.inputType(0), std::move(unpooled));
        return Status::ok();
    }
    if (ctx.inputType(2) != DataType::kINT64 || ctx.inputRank(2) != 1)
        return ctx.error("output_shape must be a 1-D int64 tensor");
    const Dim& length = ctx.inputShape(2)[0];
    if (length.isKnown() && length.value != static_cast<int64_t>(x.size()))
        return ctx.error("output_shape has " + std::to_string(length.value) + " entries for an input of rank " +
                         std::to_string(x.size()));
    SymShape out(x.size(), Dim::unknown());
    if (auto values = shapeinfer::knownInts(ctx, 2)) {
        for (size_t i = 0; i < x.size(); ++i) {
            const int64_t v = (*values)[i];
            const Dim& least = unpooled[i];
            const bool mustEqual = i < 2;
            if (least.isKnown() && (mustEqual ? v != least.value : v < least.value))
                return ctx.error("output_shape " + shapeToString((*values), true) + " must " +
                                 (mustEqual ? "keep X's N and C" : "hold the unpooled extents") + " " +
                                 symShapeToString(unpooled) + (mustEqual ? "" : " or more"));
            out[i] = Dim(v);
        }
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferChannelsLastPool(InferenceContext& ctx) {
    const std::string pool = ctx.attrs().getString(kChannelsLastPoolAttribute, "");
    if (pool != "MaxPool" && pool != "AveragePool")
        return ctx.error(std::string("attribute ") + kChannelsLastPoolAttribute +
                         " must be \"MaxPool\" or \"AveragePool\", got \"" + pool + "\"");
    KILN_RETURN_IF_ERROR(checkOutputCount(ctx, 1));
    if (ctx.inputRank(0) != 4)
        return ctx.error("takes a rank-4 X [N, H, W, C], got " + symShapeToString(ctx.inputShape(0)));
    const ValueInfo nchw = shapeinfer::permutedInfo(ctx.input(0), kToChannelsFirst);
    InferenceContext inner(ctx.node(), {&nchw}, 1);
    KILN_RETURN_IF_ERROR(pool == "MaxPool" ? inferMaxPool(inner) : inferAveragePool(inner));
    const ValueInfo& result = inner.outputs()[0];
    ctx.setOutput(0, result.dtype, permuteRank4(result.shape, kToChannelsLast));
    return Status::ok();
}

}  // namespace

void registerPoolingOps(OpRegistry& registry) {
    registry.add({"MaxPool", "", inferMaxPool, 1, 1, true, 1});
    registry.add({"AveragePool", "", inferAveragePool, 1, 1});
    registry.add({"LpPool", "", inferLpPool, 1, 1});
    registry.add({"GlobalAveragePool", "", inferGlobalPool, 1, 1});
    registry.add({"GlobalMaxPool", "", inferGlobalPool, 1, 1});
    registry.add({"GlobalLpPool", "", inferGlobalPool, 1, 1});
    registry.add({"MaxUnpool", "", inferMaxUnpool, 2, 3});
    registry.add({"ChannelsLastPool", "kiln", inferChannelsLastPool, 1, 1});
}

}  // namespace kiln
