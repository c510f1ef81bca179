// Random generators: RandomUniform RandomNormal (shape from an attribute), RandomUniformLike
// RandomNormalLike Bernoulli (shape of the input). Not foldable: every run draws new values.

#include "ir/onnx_types.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

/// The dtype attribute when given (an ONNX type number), else `fallback`.
Expected<DataType> outputType(const InferenceContext& ctx, DataType fallback) {
    auto attr = ctx.attrs().getInt("dtype");
    if (!attr) return fallback;
    auto type = dataTypeFromOnnx(*attr);
    if (!type) return ctx.error("dtype " + std::to_string(*attr) + " is not supported");
    return *type;
}

Status inferRandomFromShape(InferenceContext& ctx) {
    auto shape = ctx.attrs().getInts("shape");
    if (!shape) return ctx.error("attribute 'shape' is required");
    SymShape out;
    for (int64_t d : *shape) {
        if (d < 0) return ctx.error("shape has a negative extent " + std::to_string(d));
        out.emplace_back(d);
    }
    KILN_ASSIGN_OR_RETURN(DataType type, outputType(ctx, DataType::kFLOAT));
    if (!isFloatingType(type)) return ctx.error(std::string("dtype ") + dataTypeName(type) + " is not floating-point");
    ctx.setOutput(0, type, std::move(out));
    return Status::ok();
}

Status inferRandomLike(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(DataType type, outputType(ctx, ctx.inputType(0)));
    if (!isFloatingType(type)) return ctx.error(std::string("output type ") + dataTypeName(type) + " is not floating-point");
    ctx.setOutput(0, type, ctx.inputShape(0));
    return Status::ok();
}

Status inferBernoulli(InferenceContext& ctx) {
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("input probabilities must be floating-point");
    KILN_ASSIGN_OR_RETURN(DataType type, outputType(ctx, ctx.inputType(0)));
    ctx.setOutput(0, type, ctx.inputShape(0));
    return Status::ok();
}

OpSchema randomOp(const char* opType, InferFunction infer, size_t inputs) {
    OpSchema schema{opType, "", std::move(infer), inputs, inputs};
    schema.foldable = false;
    return schema;
}

}  // namespace

void registerRandomOps(OpRegistry& registry) {
    registry.add(randomOp("RandomUniform", inferRandomFromShape, 0));
    registry.add(randomOp("RandomNormal", inferRandomFromShape, 0));
    registry.add(randomOp("RandomUniformLike", inferRandomLike, 1));
    registry.add(randomOp("RandomNormalLike", inferRandomLike, 1));
    registry.add(randomOp("Bernoulli", inferBernoulli, 1));
}

}  // namespace kiln
