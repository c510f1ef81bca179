// The string ops: StringNormalizer, StringConcat, StringSplit, RegexFullMatch, and ai.onnx.ml's
// LabelEncoder (a lookup table between strings, int64s and floats). Type and shape inference.
// Cast, CastLike and Equal accept strings in their own families (elementwise.cpp).

#include <algorithm>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/elementwise_inference.h"
#include "ir/ops/label_encoder_spec.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

using pointwise::inferBinary;
using pointwise::inferUnaryPredicate;
using pointwise::kStringType;

Status requireStringInput(const InferenceContext& ctx, size_t index, const char* what) {
    if (ctx.inputType(index) != DataType::kSTRING)
        return ctx.error(std::string(what) + " must be a string tensor, got " + dataTypeName(ctx.inputType(index)));
    return Status::ok();
}

/// X is [C] or [1, C]. Removing stopwords shortens C by a number known only from the values, so
/// with stopwords the last extent is data-dependent (the kernel reports it).
Status inferStringNormalizer(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireStringInput(ctx, 0, "X"));
    const std::string action = ctx.attrs().getString("case_change_action", "NONE");
    if (action != "NONE" && action != "LOWER" && action != "UPPER")
        return ctx.error("case_change_action must be NONE, LOWER or UPPER, got '" + action + "'");
    const SymShape& x = ctx.inputShape(0);
    if (x.size() != 1 && !(x.size() == 2 && x[0].isKnown() && x[0].value == 1))
        return ctx.error("X must have shape [C] or [1, C], got " + symShapeToString(x));
    SymShape out = x;
    if (!ctx.attrs().getStrings("stopwords").value_or(std::vector<std::string>{}).empty()) out.back() = Dim::unknown();
    ctx.setOutput(0, DataType::kSTRING, std::move(out));
    return Status::ok();
}

/// Y is X's shape plus one axis as long as the most parts any element splits into (data-dependent);
/// Z counts each element's parts.
Status inferStringSplit(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireStringInput(ctx, 0, "X"));
    if (auto maxsplit = ctx.attrs().getInt("maxsplit"); maxsplit && *maxsplit < 0)
        return ctx.error("maxsplit must not be negative, got " + std::to_string(*maxsplit));
    SymShape y = ctx.inputShape(0);
    y.push_back(Dim::unknown());
    ctx.setOutput(0, DataType::kSTRING, std::move(y));
    ctx.setOutput(1, DataType::kINT64, ctx.inputShape(0));
    return Status::ok();
}

Status inferRegexFullMatch(InferenceContext& ctx) {
    if (!ctx.attrs().getString("pattern")) return ctx.error("attribute pattern is required");
    KILN_RETURN_IF_ERROR(requireStringInput(ctx, 0, "X"));
    ctx.setOutput(0, DataType::kBOOL, ctx.inputShape(0));
    return Status::ok();
}

Status inferLabelEncoder(InferenceContext& ctx) {
    Expected<LabelEncoderSpec> spec = parseLabelEncoderSpec(ctx.attrs());
    if (!spec) return ctx.error(spec.status().message());
    if (ctx.inputType(0) != spec->keyType)
        return ctx.error(std::string("X has type ") + dataTypeName(ctx.inputType(0)) + " but the keys are " +
                         dataTypeName(spec->keyType));
    ctx.setOutput(0, spec->valueType, ctx.inputShape(0));
    return Status::ok();
}

}  // namespace

void registerStringOps(OpRegistry& registry) {
    registry.add({"StringNormalizer", "", inferStringNormalizer, 1, 1, true, SIZE_MAX, true});
    registry.add({"StringConcat", "", inferBinary(kStringType, false), 2, 2});
    registry.add({"StringSplit", "", inferStringSplit, 1, 1, true, SIZE_MAX, true});
    registry.add({"RegexFullMatch", "", inferRegexFullMatch, 1, 1});
    registry.add({"LabelEncoder", "ai.onnx.ml", inferLabelEncoder, 1, 1});
}

}  // namespace kiln
