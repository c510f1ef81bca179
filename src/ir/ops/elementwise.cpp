// Elementwise ops: numpy-broadcasting arithmetic, comparison, logic and bitwise ops, Where, Cast,
// and unary math. Activations (Relu, Sigmoid, Softmax, ...) are in activation.cpp.

#include "ir/onnx_types.h"
#include "ir/ops/elementwise_inference.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

using namespace pointwise;

Status inferMod(InferenceContext& ctx) {
    int64_t fmod = ctx.attrs().getInt("fmod", 0);
    if (fmod != 0 && fmod != 1) return ctx.error("attribute fmod must be 0 or 1, got " + std::to_string(fmod));
    return inferBinary(kNumericTypes, false)(ctx);
}

// Pow's base and exponent have independent types; the output has the base's type.
Status inferPow(InferenceContext& ctx) {
    constexpr TypeSet kBaseTypes = kFloatTypes | typeBit(DataType::kINT32) | typeBit(DataType::kINT64);
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kBaseTypes));
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 1, kNumericTypes));
    KILN_ASSIGN_OR_RETURN(SymShape shape, broadcastInputs(ctx, {0, 1}));
    ctx.setOutput(0, ctx.inputType(0), std::move(shape));
    return Status::ok();
}

Status inferBitShift(InferenceContext& ctx) {
    auto direction = ctx.attrs().getString("direction");
    if (!direction) return ctx.error("attribute direction (\"LEFT\" or \"RIGHT\") is required");
    if (*direction != "LEFT" && *direction != "RIGHT")
        return ctx.error("attribute direction must be \"LEFT\" or \"RIGHT\", got \"" + *direction + "\"");
    return inferBinary(kIntegerTypes, false)(ctx);
}

Status inferWhere(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kBoolType));
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 1, kAllTypes));
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 2, kAllTypes));
    KILN_RETURN_IF_ERROR(checkSameType(ctx, 1, 2));
    KILN_ASSIGN_OR_RETURN(SymShape shape, broadcastInputs(ctx, {0, 1, 2}));
    ctx.setOutput(0, ctx.inputType(1), std::move(shape));
    return Status::ok();
}

/// The element type named by the `to` attribute (Cast, BitCast), with `verb` in the error.
Expected<DataType> targetType(const InferenceContext& ctx, const char* verb) {
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kAllTypes | kLowBitTypes | kStringType));
    auto to = ctx.attrs().getInt("to");
    if (!to) return ctx.error("attribute to (the target element type) is required");
    auto type = dataTypeFromOnnx(*to);
    if (!type)
        return unsupported(ctx.node().describe() + ": cannot " + verb + " to ONNX element type " + std::to_string(*to) +
                           " (Kiln has no such type)");
    return *type;
}

/// `round_mode` (casts to float8e8m0) must be one of ONNX's three spellings.
Status checkRoundMode(const InferenceContext& ctx) {
    const std::string mode = ctx.attrs().getString("round_mode", "up");
    if (mode != "up" && mode != "down" && mode != "nearest")
        return ctx.error("round_mode must be \"up\", \"down\" or \"nearest\", got \"" + mode + "\"");
    return Status::ok();
}

// `saturate` and `round_mode` change only casts to the float8 types (common/low_precision.h).
Status inferCast(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(DataType type, targetType(ctx, "cast"));
    KILN_RETURN_IF_ERROR(checkRoundMode(ctx));
    ctx.setOutput(0, type, ctx.inputShape(0));
    return Status::ok();
}

/// BitCast (opset 26): the same bytes read as another type of the same width, same shape.
Status inferBitCast(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(DataType type, targetType(ctx, "bit-cast"));
    const DataType from = ctx.inputType(0);
    if (type == DataType::kSTRING || from == DataType::kSTRING)
        return ctx.error("BitCast does not apply to strings (their elements are views, not values)");
    // Widths in bits: the 4- and 2-bit types take a byte each in Kiln, but ONNX's BitCast reads
    // their bits, so they only bit-cast among types of their own width.
    if (dataTypeBits(type) != dataTypeBits(from))
        return ctx.error(std::string("BitCast needs types of one width: ") + dataTypeName(from) + " is " +
                         std::to_string(dataTypeBits(from)) + " bits, " + dataTypeName(type) + " " +
                         std::to_string(dataTypeBits(type)));
    ctx.setOutput(0, type, ctx.inputShape(0));
    return Status::ok();
}

Status inferCastLike(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 0, kAllTypes | kLowBitTypes | kStringType));
    KILN_RETURN_IF_ERROR(checkInputType(ctx, 1, kAllTypes | kLowBitTypes | kStringType));
    KILN_RETURN_IF_ERROR(checkRoundMode(ctx));
    ctx.setOutput(0, ctx.inputType(1), ctx.inputShape(0));
    return Status::ok();
}

}  // namespace

void registerElementwiseOps(OpRegistry& registry) {
    const InferFunction arithmetic = inferBinary(kNumericTypes, false);
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) registry.add({op, "", arithmetic, 2, 2});
    registry.add({"Mod", "", inferMod, 2, 2});
    registry.add({"Pow", "", inferPow, 2, 2});
    registry.add({"Max", "", inferVariadic(kNumericTypes), 1});
    registry.add({"Min", "", inferVariadic(kNumericTypes), 1});
    registry.add({"Mean", "", inferVariadic(kFloatTypes), 1});
    registry.add({"Sum", "", inferVariadic(kFloatTypes), 1});

    registry.add({"Equal", "", inferBinary(kAllTypes | kStringType, true), 2, 2});
    const InferFunction ordering = inferBinary(kNumericTypes, true);
    for (const char* op : {"Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) registry.add({op, "", ordering, 2, 2});

    const InferFunction logic = inferBinary(kBoolType, false);
    for (const char* op : {"And", "Or", "Xor"}) registry.add({op, "", logic, 2, 2});
    registry.add({"Not", "", inferUnary(kBoolType), 1, 1});
    registry.add({"Where", "", inferWhere, 3, 3});

    registry.add({"BitShift", "", inferBitShift, 2, 2});
    const InferFunction bitwise = inferBinary(kIntegerTypes, false);
    for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) registry.add({op, "", bitwise, 2, 2});
    registry.add({"BitwiseNot", "", inferUnary(kIntegerTypes), 1, 1});

    registry.add({"Cast", "", inferCast, 1, 1});
    registry.add({"BitCast", "", inferBitCast, 1, 1});
    registry.add({"CastLike", "", inferCastLike, 2, 2});

    registry.add({"Neg", "", inferUnary(kFloatTypes | kSignedIntTypes), 1, 1});
    registry.add({"Abs", "", inferUnary(kNumericTypes), 1, 1});
    registry.add({"Sign", "", inferUnary(kNumericTypes), 1, 1});
    const InferFunction floatUnary = inferUnary(kFloatTypes);
    for (const char* op : {"Sqrt", "Reciprocal", "Exp", "Log", "Ceil", "Floor", "Round", "Erf", "Sin", "Cos", "Tan",
                           "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh"})
        registry.add({op, "", floatUnary, 1, 1});
    registry.add({"IsNaN", "", inferUnaryPredicate(kFloatTypes), 1, 1});
    registry.add({"IsInf", "", inferUnaryPredicate(kFloatTypes), 1, 1});
}

}  // namespace kiln
