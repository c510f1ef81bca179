// Resize (opset 19 form; Upsample and the older Resize versions are upgraded to it on import):
// the output shape from the scales or sizes input when its values are known. Otherwise the resized
// axes stay unknown and the runtime infers the node again once the values are computed.

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"
#include "ir/ops/resize_geometry.h"

namespace kiln {

namespace {

Status inferResize(InferenceContext& ctx) {
    auto attrs = parseResizeAttributes(ctx.attrs());
    if (!attrs) return ctx.error(attrs.status().message());
    const bool hasScales = ctx.hasInput(2) && ctx.inputShape(2).size() == 1 && !(ctx.inputShape(2)[0].isKnown() && ctx.inputShape(2)[0].value == 0);
    const bool hasSizes = ctx.hasInput(3);
    if (hasScales == hasSizes) return ctx.error("exactly one of scales and sizes must be given");
    if (hasScales && !isFloatingType(ctx.inputType(2))) return ctx.error("scales must be floating-point");
    if (hasSizes && ctx.inputType(3) != DataType::kINT64) return ctx.error("sizes must be int64");
    if (ctx.hasInput(1) && !isFloatingType(ctx.inputType(1))) return ctx.error("roi must be floating-point");
    if (ctx.inputType(0) == DataType::kBOOL) return ctx.error("X must be numeric");
    const SymShape& x = ctx.inputShape(0);
    const Tensor* values = ctx.inputValue(hasScales ? 2 : 3);
    const Tensor* roi = ctx.inputValue(1);
    const bool roiKnown = !ctx.hasInput(1) || roi;
    if (!values || !roiKnown || !isFullyKnown(x)) {
        // Axes whose scale is known to be 1 keep their extent; the rest is known at run time.
        SymShape out(x.size(), Dim::unknown());
        if (values && hasScales && attrs->axes.empty() && values->elementCount() == static_cast<int64_t>(x.size())) {
            std::vector<double> s = values->toDoubleVector();
            for (size_t a = 0; a < x.size(); ++a)
                if (s[a] == 1.0 && attrs->coordinates != CoordinateMode::kTfCropAndResize) out[a] = x[a];
        }
        ctx.setOutput(0, ctx.inputType(0), std::move(out));
        return Status::ok();
    }
    std::optional<std::vector<double>> scales;
    std::optional<std::vector<int64_t>> sizes;
    if (hasScales) scales = values->toDoubleVector();
    else sizes = values->toInt64Vector();
    auto geometry = resizeGeometry(toConcrete(x), *attrs, roi ? roi->toDoubleVector() : std::vector<double>{}, scales, sizes);
    if (!geometry) return ctx.error(geometry.status().message());
    ctx.setOutput(0, ctx.inputType(0), fromConcrete(geometry->output));
    return Status::ok();
}

}  // namespace

void registerResizeOps(OpRegistry& registry) {
    registry.add({"Resize", "", inferResize, 1, 4});
}

}  // namespace kiln
