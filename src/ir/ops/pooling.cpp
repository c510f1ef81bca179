// MaxPool, AveragePool, LpPool and their global forms: type and shape inference.

#include <sstream>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/conv_window.h"
#include "ir/ops/op_families.h"

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

}  // namespace

void registerPoolingOps(OpRegistry& registry) {
    registry.add({"MaxPool", "", inferMaxPool, 1, 1, true, 1});
    registry.add({"AveragePool", "", inferAveragePool, 1, 1});
    registry.add({"LpPool", "", inferLpPool, 1, 1});
    registry.add({"GlobalAveragePool", "", inferGlobalPool, 1, 1});
    registry.add({"GlobalMaxPool", "", inferGlobalPool, 1, 1});
    registry.add({"GlobalLpPool", "", inferGlobalPool, 1, 1});
}

}  // namespace kiln
