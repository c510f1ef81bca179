// Upgrades of the shape and tensor-manipulation ops: attributes that later opsets turned into inputs.

#include "frontend/onnx/opset_upgrade.h"

namespace kiln::onnx_import {

namespace {

// Squeeze-13: `axes` moved from an attribute to optional input 1.
Status squeezeAxesToInput(UpgradeContext& ctx) {
    return moveIntsAttributeToInput(ctx, "axes", 1, EmptyList::kOmitInput);
}

// Unsqueeze-13: `axes` moved from a required attribute to required input 1.
Status unsqueezeAxesToInput(UpgradeContext& ctx) {
    if (!ctx.attrs().has("axes")) return invalidModel("Unsqueeze before opset 13 needs the 'axes' attribute");
    return moveIntsAttributeToInput(ctx, "axes", 1, EmptyList::kKeepInput);
}

// Split-13: `split` moved from an attribute to optional input 1.
Status splitSizesToInput(UpgradeContext& ctx) {
    return moveIntsAttributeToInput(ctx, "split", 1, EmptyList::kOmitInput);
}

// Split-18: without sizes, the part count comes from `num_outputs` (before, from the output count).
Status splitCountToAttribute(UpgradeContext& ctx) {
    if (!ctx.input(1) && !ctx.attrs().has("num_outputs"))
        ctx.attrs().set("num_outputs", static_cast<int64_t>(ctx.node().outputNames.size()));
    return Status::ok();
}

// Slice-10: `starts`, `ends` and `axes` moved from attributes to inputs 1, 2 and 3 (and `steps`,
// input 4, appeared; its absence means steps of 1, as before).
Status sliceAttributesToInputs(UpgradeContext& ctx) {
    if (!ctx.attrs().has("starts") || !ctx.attrs().has("ends"))
        return invalidModel("Slice before opset 10 needs the 'starts' and 'ends' attributes");
    KILN_RETURN_IF_ERROR(moveIntsAttributeToInput(ctx, "starts", 1, EmptyList::kKeepInput));
    KILN_RETURN_IF_ERROR(moveIntsAttributeToInput(ctx, "ends", 2, EmptyList::kKeepInput));
    return moveIntsAttributeToInput(ctx, "axes", 3, EmptyList::kKeepInput);
}

// Pad-11: `pads` moved from an attribute to input 1 and `value` to input 2 (`constant_value`, of
// the data's element type).
Status padAttributesToInputs(UpgradeContext& ctx) {
    if (!ctx.attrs().has("pads")) return invalidModel("Pad before opset 11 needs the 'pads' attribute");
    KILN_RETURN_IF_ERROR(moveIntsAttributeToInput(ctx, "pads", 1, EmptyList::kKeepInput));
    if (ctx.attrs().has("value")) {
        std::optional<float> value = ctx.attrs().getFloat("value");
        if (!value) return invalidModel("attribute 'value' must be a float");
        ctx.attrs().erase("value");
        ctx.setInput(2, ctx.addConstant("value", scalarOfType(ctx.inputType(0, DataType::kFLOAT), *value)));
    }
    return Status::ok();
}

// TopK-10: `k` moved from an attribute to input 1 (a 1-D int64 tensor of one element).
Status topkCountToInput(UpgradeContext& ctx) {
    std::optional<int64_t> k = ctx.attrs().getInt("k");
    if (!k) return invalidModel("TopK before opset 10 needs the int attribute 'k'");
    ctx.attrs().erase("k");
    ctx.setInput(1, ctx.addConstant("k", Tensor::fromInt64({*k}, {1})));
    return Status::ok();
}

}  // namespace

void addShapeUpgrades(std::vector<OpsetUpgrade>& table) {
    table.push_back({"Squeeze", 13, {}, squeezeAxesToInput});
    table.push_back({"Unsqueeze", 13, {}, unsqueezeAxesToInput});
    table.push_back({"Split", 13, {}, splitSizesToInput});
    table.push_back({"Split", 18, {}, splitCountToAttribute});
    table.push_back({"Slice", 10, {}, sliceAttributesToInputs});
    table.push_back({"Pad", 11, {}, padAttributesToInputs});
    table.push_back({"TopK", 10, {}, topkCountToInput});
}

}  // namespace kiln::onnx_import
