// Upgrades of the forms of opsets 1 to 5 into opset 6's, the form every other upgrade table starts
// from. ONNX's operator changelog (onnx.defs.get_schema(op, version).since_version) lists these
// changes between opset 1 and opset 6:
//   - opset 6 removed `consumed_inputs` (an in-place hint of the first runtimes, meaningless for
//     inference) from the ops listed in kConsumedInputsOps and widened their type lists; the
//     semantics stayed. BatchNormalization's copy goes in opset_upgrade_legacy.cpp.
//   - Cast-6: `to` is a TensorProto.DataType number; Cast-1 named the type ("FLOAT").
//   - Tile-6: one `repeats` input replaced the inputs `tiles` and `axis` (one axis at a time).
//   - Reshape-5: the `shape` attribute became input 1.
//   - Concat-4: `axis` became required; its default was 1.
//   - Pad-2: `paddings` was renamed `pads` (same layout).
//   - Split-2: the optional input `split` (lengths as a float tensor) was dropped for the attribute.
//   - LpPool-2, GlobalLpPool-2: `p` became an int (a float before); LpPool-2 requires kernel_shape.
//   - Upsample-7: `scales` replaced the experimental `height_scale` / `width_scale` of 4-D inputs.
//   - GRU-3 added `linear_before_reset` (its default 0 is GRU-1's behaviour) and made output Y_h
//     optional; Gemm-6 changed only the schema's inference. Both import as they are.
// Every other op of opset 1 kept its definition up to opset 6 and imports as it is.

#include <cctype>
#include <cmath>

#include "frontend/onnx/opset_upgrade.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

namespace {

constexpr const char* kConsumedInputsOps[] = {"Abs",
                                              "Add",
                                              "Ceil",
                                              "Clip",
                                              "Div",
                                              "Dropout",
                                              "Elu",
                                              "Exp",
                                              "Floor",
                                              "HardSigmoid",
                                              "InstanceNormalization",
                                              "LeakyRelu",
                                              "Log",
                                              "Max",
                                              "Mean",
                                              "Min",
                                              "Mul",
                                              "Neg",
                                              "PRelu",
                                              "Reciprocal",
                                              "Relu",
                                              "Selu",
                                              "Sigmoid",
                                              "Sqrt",
                                              "Sub",
                                              "Sum",
                                              "Tanh"};

Status dropConsumedInputs(UpgradeContext& ctx) {
    ctx.attrs().erase("consumed_inputs");
    return Status::ok();
}

// Cast-1 named the target type as TensorProto.DataType spells it.
Status castTypeNameToNumber(UpgradeContext& ctx) {
    std::optional<std::string> name = ctx.attrs().getString("to");
    if (!name) return Status::ok();  // already a number: some exporters wrote opset 1 with the new form
    std::string upper = *name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    onnx::TensorProto::DataType type{};
    if (!onnx::TensorProto::DataType_Parse(upper, &type) || type == onnx::TensorProto::UNDEFINED)
        return invalidModel("attribute 'to' = '" + *name + "' names no ONNX element type");
    ctx.attrs().set("to", static_cast<int64_t>(type));
    return Status::ok();
}

// Tile-1 repeated the input `tiles` times along `axis`: Tile-6's repeats are 1 except there.
Status tileAxisToRepeats(UpgradeContext& ctx) {
    const Tensor* tiles = ctx.inputValue(1);
    const Tensor* axis = ctx.inputValue(2);
    const std::optional<int64_t> rank = ctx.inputRank(0);
    if (!tiles || !axis || !rank)
        return unsupported(
            "Tile before opset 6 needs its tiles and axis inputs known at import time (constants) and "
            "the rank of its input");
    if (tiles->elementCount() != 1 || axis->elementCount() != 1 || !isIntegerType(tiles->dtype()) ||
        !isIntegerType(axis->dtype()))
        return invalidModel("Tile before opset 6 takes one integer each in tiles and axis");
    const int64_t count = tiles->toInt64Vector()[0];
    const std::optional<int64_t> along = normalizeAxis(axis->toInt64Vector()[0], *rank);
    if (!along)
        return invalidModel("Tile axis " + std::to_string(axis->toInt64Vector()[0]) + " is out of range for rank " +
                            std::to_string(*rank));
    if (count < 0) return invalidModel("Tile tiles = " + std::to_string(count) + " is negative");
    std::vector<int64_t> repeats(static_cast<size_t>(*rank), 1);
    repeats[static_cast<size_t>(*along)] = count;
    ctx.node().inputs = {ctx.input(0), ctx.addConstant("repeats", Tensor::fromInt64(repeats, {*rank}))};
    return Status::ok();
}

// Reshape-5 moved `shape` to input 1 (0 copies a dimension and -1 infers one, as before).
Status reshapeShapeToInput(UpgradeContext& ctx) {
    ctx.attrs().erase("consumed_inputs");
    if (!ctx.attrs().has("shape")) {
        if (ctx.input(1)) return Status::ok();
        return invalidModel("Reshape before opset 5 needs the 'shape' attribute");
    }
    return moveIntsAttributeToInput(ctx, "shape", 1, EmptyList::kKeepInput);
}

Status concatDefaultAxis(UpgradeContext& ctx) {
    if (!ctx.attrs().has("axis")) ctx.attrs().set("axis", int64_t{1});
    return Status::ok();
}

Status padPaddingsToPads(UpgradeContext& ctx) {
    if (!ctx.attrs().has("paddings")) return Status::ok();
    std::optional<std::vector<int64_t>> pads = ctx.attrs().getInts("paddings");
    if (!pads) return invalidModel("attribute 'paddings' must be a list of ints");
    ctx.attrs().erase("paddings");
    ctx.attrs().set("pads", *pads);
    return Status::ok();
}

// Split-1 documents no default axis, so an absent one is refused rather than guessed; its
// lengths input (float-typed) becomes the int64 input 1 of Split-13.
Status splitLengthsInputToInt64(UpgradeContext& ctx) {
    if (!ctx.attrs().has("axis"))
        return unsupported("Split before opset 2 documents no default axis; the node must set 'axis'");
    if (!ctx.input(1)) return Status::ok();
    if (ctx.attrs().has("split"))
        return invalidModel("Split before opset 2 gives the lengths both as input 1 and as attribute 'split'");
    AttributeMap castAttrs;
    castAttrs.set("to", static_cast<int64_t>(onnx::TensorProto::INT64));
    ctx.setInput(1, ctx.addNode("Cast", "split_lengths", {ctx.input(1)}, castAttrs));
    return Status::ok();
}

// LpPool-2 and GlobalLpPool-2 read `p` as an int; a float p of an integer value means the same.
Status lpPoolIntegerP(UpgradeContext& ctx) {
    if (ctx.node().opType == "LpPool" && !ctx.attrs().has("kernel_shape"))
        return unsupported("LpPool before opset 2 without 'kernel_shape' is not supported (opset 2 requires it)");
    if (!ctx.attrs().has("p") || ctx.attrs().getInt("p")) return Status::ok();
    std::optional<float> p = ctx.attrs().getFloat("p");
    if (!p) return invalidModel("attribute 'p' must be a number");
    if (*p != std::floor(*p) || *p < 1)
        return unsupported("p = " + std::to_string(*p) + " is not a positive integer; from opset 2 on p is an int");
    ctx.attrs().set("p", static_cast<int64_t>(*p));
    return Status::ok();
}

// Upsample-1 (experimental) scaled the H and W axes of an NCHW input; Upsample-7 takes a scale per
// axis and calls "bilinear" "linear".
Status upsampleHeightWidthToScales(UpgradeContext& ctx) {
    if (ctx.attrs().has("scales")) return Status::ok();
    const std::optional<float> height = ctx.attrs().getFloat("height_scale");
    const std::optional<float> width = ctx.attrs().getFloat("width_scale");
    if (!height || !width)
        return invalidModel("Upsample before opset 7 needs the attributes 'height_scale' and 'width_scale'");
    if (std::optional<int64_t> rank = ctx.inputRank(0); rank && *rank != 4)
        return invalidModel("Upsample before opset 7 takes a 4-D (N, C, H, W) input, not rank " +
                            std::to_string(*rank));
    ctx.attrs().erase("height_scale");
    ctx.attrs().erase("width_scale");
    ctx.attrs().set("scales", std::vector<float>{1.0f, 1.0f, *height, *width});
    if (ctx.attrs().getString("mode", "nearest") == "bilinear") ctx.attrs().set("mode", std::string("linear"));
    return Status::ok();
}

}  // namespace

void addEarlyOpsetUpgrades(std::vector<OpsetUpgrade>& table) {
    for (const char* op : kConsumedInputsOps) table.push_back({op, 6, {}, dropConsumedInputs});
    table.push_back({"Cast", 6, {}, castTypeNameToNumber});
    table.push_back({"Tile", 6, {}, tileAxisToRepeats});
    table.push_back({"Reshape", 5, {}, reshapeShapeToInput});
    table.push_back({"Concat", 4, {}, concatDefaultAxis});
    table.push_back({"Pad", 2, {}, padPaddingsToPads});
    table.push_back({"Split", 2, {"Cast", "Split"}, splitLengthsInputToInt64});
    table.push_back({"LpPool", 2, {}, lpPoolIntegerP});
    table.push_back({"GlobalLpPool", 2, {}, lpPoolIntegerP});
    table.push_back({"Upsample", 7, {}, upsampleHeightWidthToScales});
}

}  // namespace kiln::onnx_import
