// SwiGLU (opset 28): Y = Swish_alpha(A) * B = A * sigmoid(alpha * A) * B, the gated activation of
// Llama-style MLPs. A (gate) and B (value) must have the same type and the same shape: unlike the
// binary elementwise ops, ONNX does not broadcast them.

#include "ir/ops/elementwise_inference.h"
#include "ir/ops/op_families.h"
#include "ir/ops/shape_infer_helpers.h"

namespace kiln {

namespace {

using namespace pointwise;

Status inferSwiGLU(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kFloatTypes));
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 1, kFloatTypes));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 0, 1));
    const SymShape& a = ctx.inputShape(0);
    const SymShape& b = ctx.inputShape(1);
    const std::string mismatch = "A " + symShapeToString(a) + " and B " + symShapeToString(b) +
                                 " must have the same shape (SwiGLU does not broadcast)";
    if (a.size() != b.size()) return ctx.error(mismatch);
    SymShape out(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
        std::optional<Dim> merged = shapeinfer::mergeEqualDims(a[i], b[i]);
        if (!merged) return ctx.error(mismatch);
        out[i] = *merged;
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

}  // namespace

void registerSwiGLUOps(OpRegistry& registry) { registry.add({"SwiGLU", "", inferSwiGLU, 2, 2}); }

}  // namespace kiln
