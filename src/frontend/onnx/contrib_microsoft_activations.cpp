// com.microsoft's fused activations and products, as standard ops: Gelu (erf form), FastGelu (tanh
// form, optional bias), BiasGelu, QuickGelu (x * sigmoid(alpha x)), BiasAdd (x + bias + skip) and
// FusedMatMul (MatMul with transposes and a scale).

#include <string>

#include "frontend/onnx/contrib_expansion.h"

namespace kiln::onnx_import::contrib {

namespace {

AttributeMap tanhApproximation() {
    AttributeMap attrs;
    attrs.set("approximate", std::string("tanh"));
    return attrs;
}

/// Swaps the last two axes of `value` (rank from inference, which FusedMatMul's transposes need).
Expected<Value*> swapLastAxes(ExpansionContext& ctx, Value* value, const char* which) {
    const ValueInfo* info = ctx.info(value);
    if (!info) return invalidModel(std::string("the rank of ") + which + " must be known to transpose it");
    const int64_t rank = static_cast<int64_t>(info->shape.size());
    if (rank < 2) return invalidModel(std::string(which) + " must have rank >= 2 to transpose it");
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < rank; ++d) perm.push_back(d);
    std::swap(perm[static_cast<size_t>(rank - 2)], perm[static_cast<size_t>(rank - 1)]);
    AttributeMap attrs;
    attrs.set("perm", perm);
    return ctx.add("Transpose", {value}, attrs);
}

}  // namespace

Status expandGelu(ExpansionContext& ctx) {
    ctx.addProducing("Gelu", {ctx.input(0)}, 0);
    return Status::ok();
}

Status expandFastGelu(ExpansionContext& ctx) {
    Value* x = ctx.input(1) ? ctx.add("Add", {ctx.input(0), ctx.input(1)}) : ctx.input(0);
    ctx.addProducing("Gelu", {x}, 0, tanhApproximation());
    return Status::ok();
}

Status expandBiasGelu(ExpansionContext& ctx) {
    ctx.addProducing("Gelu", {ctx.add("Add", {ctx.input(0), ctx.input(1)})}, 0);
    return Status::ok();
}

Status expandQuickGelu(ExpansionContext& ctx) {
    Value* x = ctx.input(0);
    const float alpha = ctx.attrs().getFloat("alpha", 1.702f);
    Value* gate = ctx.add("Sigmoid", {ctx.add("Mul", {x, ctx.scalar(alpha, x)})});
    ctx.addProducing("Mul", {x, gate}, 0);
    return Status::ok();
}

Status expandBiasAdd(ExpansionContext& ctx) {
    ctx.addProducing("Add", {ctx.add("Add", {ctx.input(0), ctx.input(1)}), ctx.input(2)}, 0);
    return Status::ok();
}

Status expandFusedMatMul(ExpansionContext& ctx) {
    if (ctx.attrs().getInt("transBatchA", 0) != 0 || ctx.attrs().getInt("transBatchB", 0) != 0)
        return ExpansionContext::unsupportedForm("FusedMatMul with transBatchA or transBatchB");
    Value* a = ctx.input(0);
    Value* b = ctx.input(1);
    if (ctx.attrs().getInt("transA", 0) != 0) {
        KILN_ASSIGN_OR_RETURN(a, swapLastAxes(ctx, a, "A"));
    }
    if (ctx.attrs().getInt("transB", 0) != 0) {
        KILN_ASSIGN_OR_RETURN(b, swapLastAxes(ctx, b, "B"));
    }
    const float alpha = ctx.attrs().getFloat("alpha", 1.0f);
    if (alpha == 1.0f) {
        ctx.addProducing("MatMul", {a, b}, 0);
    } else {
        Value* product = ctx.add("MatMul", {a, b});
        ctx.addProducing("Mul", {product, ctx.scalar(alpha, product)}, 0);
    }
    return Status::ok();
}

}  // namespace kiln::onnx_import::contrib
