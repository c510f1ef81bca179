#include "ir/ops/elementwise_inference.h"

namespace kiln::pointwise {

std::string typeSetToString(TypeSet set) {
    static constexpr DataType kOrder[] = {
        DataType::kHALF,    DataType::kBF16,        DataType::kFLOAT,   DataType::kDOUBLE,    DataType::kINT8,
        DataType::kINT16,   DataType::kINT32,       DataType::kINT64,   DataType::kUINT8,     DataType::kUINT16,
        DataType::kUINT32,  DataType::kUINT64,      DataType::kBOOL,    DataType::kFP8E4M3FN, DataType::kFP8E4M3FNUZ,
        DataType::kFP8E5M2, DataType::kFP8E5M2FNUZ, DataType::kFP8E8M0, DataType::kINT4,      DataType::kUINT4,
        DataType::kINT2,    DataType::kUINT2,       DataType::kFP4E2M1, DataType::kSTRING};
    std::string out;
    for (DataType type : kOrder) {
        if (!typeIn(type, set)) continue;
        if (!out.empty()) out += ", ";
        out += dataTypeName(type);
    }
    return out;
}

Status checkInputType(const InferenceContext& ctx, size_t index, TypeSet allowed) {
    if (!ctx.hasInput(index)) return ctx.error("input " + std::to_string(index) + " is missing");
    DataType type = ctx.inputType(index);
    if (typeIn(type, allowed)) return Status::ok();
    return ctx.error("input " + std::to_string(index) + " has type " + dataTypeName(type) + "; " + ctx.node().opType +
                     " accepts " + typeSetToString(allowed));
}

Status checkSameType(const InferenceContext& ctx, size_t a, size_t b) {
    if (ctx.inputType(a) == ctx.inputType(b)) return Status::ok();
    return ctx.error("inputs " + std::to_string(a) + " and " + std::to_string(b) + " must have the same type, got " +
                     dataTypeName(ctx.inputType(a)) + " and " + dataTypeName(ctx.inputType(b)));
}

Expected<SymShape> broadcastInputs(const InferenceContext& ctx, std::initializer_list<size_t> indices) {
    SymShape result;
    std::string shapes;
    for (size_t index : indices) {
        if (!ctx.hasInput(index)) continue;
        if (!shapes.empty()) shapes += " and ";
        shapes += symShapeToString(ctx.inputShape(index));
        auto merged = broadcastShapes(result, ctx.inputShape(index));
        if (!merged) return ctx.error("cannot broadcast input shapes " + shapes);
        result = std::move(*merged);
    }
    return result;
}

Status checkScalarInput(const InferenceContext& ctx, size_t index, const std::string& what) {
    const SymShape& shape = ctx.inputShape(index);
    if (shape.empty() || (shape.size() == 1 && shape[0].isKnown() && shape[0].value == 1)) return Status::ok();
    return ctx.error(what + " must be a scalar, got shape " + symShapeToString(shape));
}

InferFunction inferUnary(TypeSet allowed) {
    return [allowed](InferenceContext& ctx) -> Status {
        KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, allowed));
        ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
        return Status::ok();
    };
}

InferFunction inferUnaryPredicate(TypeSet allowed) {
    return [allowed](InferenceContext& ctx) -> Status {
        KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, allowed));
        ctx.setOutput(0, DataType::kBOOL, ctx.inputShape(0));
        return Status::ok();
    };
}

InferFunction inferBinary(TypeSet allowed, bool predicate) {
    return [allowed, predicate](InferenceContext& ctx) -> Status {
        KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, allowed));
        KILN_RETURN_IF_ERROR(checkInputType(ctx, 1, allowed));
        KILN_RETURN_IF_ERROR(checkSameType(ctx, 0, 1));
        KILN_ASSIGN_OR_RETURN(SymShape shape, broadcastInputs(ctx, {0, 1}));
        ctx.setOutput(0, predicate ? DataType::kBOOL : ctx.inputType(0), std::move(shape));
        return Status::ok();
    };
}

InferFunction inferVariadic(TypeSet allowed) {
    return [allowed](InferenceContext& ctx) -> Status {
        SymShape shape;
        for (size_t i = 0; i < ctx.numInputs(); ++i) {
            KILN_RETURN_IF_ERROR(checkInputType(ctx, i, allowed));
            KILN_RETURN_IF_ERROR(checkSameType(ctx, 0, i));
            auto merged = broadcastShapes(shape, ctx.inputShape(i));
            if (!merged)
                return ctx.error("cannot broadcast input " + std::to_string(i) + " of shape " +
                                 symShapeToString(ctx.inputShape(i)) + " with " + symShapeToString(shape));
            shape = std::move(*merged);
        }
        ctx.setOutput(0, ctx.inputType(0), std::move(shape));
        return Status::ok();
    };
}

}  // namespace kiln::pointwise
