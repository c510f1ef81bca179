// Upgrades of the resampling ops: Upsample and the early Resize become Resize-19, and the renamed
// modes and changed defaults of GridSample and RoiAlign are written out.

#include <algorithm>

#include "frontend/onnx/opset_upgrade.h"

namespace kiln::onnx_import {

namespace {

/// Resize-19 with the coordinate mapping of Upsample and Resize-10: x_in = x_out / scale
/// ("asymmetric"), and nearest rounds down; ONNX's version converter maps them the same way.
Status toAsymmetricResize(UpgradeContext& ctx, Value* scales) {
    if (!scales) return invalidModel("the scales are missing");
    std::string mode = ctx.attrs().getString("mode", "nearest");
    AttributeMap attrs;
    attrs.set("mode", mode);
    attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
    if (mode == "nearest") attrs.set("nearest_mode", std::string("floor"));
    Value* x = ctx.input(0);
    ctx.node().opType = "Resize";
    ctx.node().inputs = {x, nullptr, scales};
    ctx.node().attrs = attrs;
    return Status::ok();
}

// Upsample-7 held the scales in an attribute, Upsample-9 in input 1; opset 10 deprecated Upsample
// for Resize.
Status upsampleToResize(UpgradeContext& ctx) {
    Value* scales = ctx.input(1);
    if (ctx.attrs().has("scales")) {
        std::optional<std::vector<float>> values = ctx.attrs().getFloats("scales");
        if (!values) return invalidModel("attribute 'scales' must be a list of floats");
        Tensor t = Tensor::allocate(DataType::kFLOAT, {static_cast<int64_t>(values->size())});
        std::copy(values->begin(), values->end(), t.data<float>());
        scales = ctx.addConstant("scales", std::move(t));
    }
    return toAsymmetricResize(ctx, scales);
}

// Resize-11: inputs (X, scales) became (X, roi, scales, sizes), and the coordinate mapping became
// an attribute whose default (half_pixel) differs from Resize-10's behaviour.
Status resize10ToResize(UpgradeContext& ctx) {
    return toAsymmetricResize(ctx, ctx.input(1));
}

// Resize-13 made roi and scales optional; models written for opset 11, and exporters since, pass
// an empty tensor where one is unused. roi is read only by tf_crop_and_resize. Unused inputs
// become omitted ones, so that the IR has one spelling of "not given".
Status resizeUnusedInputsToOmitted(UpgradeContext& ctx) {
    const bool cropAndResize = ctx.attrs().getString("coordinate_transformation_mode", "") == "tf_crop_and_resize";
    const Tensor* roi = ctx.inputValue(1);
    if (ctx.input(1) && !cropAndResize) ctx.setInput(1, nullptr);
    if (roi && roi->elementCount() == 0) ctx.setInput(1, nullptr);
    const Tensor* scales = ctx.inputValue(2);
    if (scales && scales->elementCount() == 0 && ctx.input(3)) ctx.setInput(2, nullptr);
    return Status::ok();
}

// GridSample-20 renamed the modes "bilinear" and "bicubic" to "linear" and "cubic" (and made
// "linear" the default, the same interpolation as the old default).
Status gridSampleModeNames(UpgradeContext& ctx) {
    std::string mode = ctx.attrs().getString("mode", "bilinear");
    if (mode == "bilinear") mode = "linear";
    if (mode == "bicubic") mode = "cubic";
    ctx.attrs().set("mode", mode);
    return Status::ok();
}

// RoiAlign-16 added coordinate_transformation_mode with default "half_pixel"; the behaviour before
// it is "output_half_pixel".
Status roiAlignLegacyCoordinates(UpgradeContext& ctx) {
    ctx.attrs().set("coordinate_transformation_mode", std::string("output_half_pixel"));
    return Status::ok();
}

}  // namespace

void addResizeUpgrades(std::vector<OpsetUpgrade>& table) {
    table.push_back({"Upsample", kEveryOpset, {"Resize"}, upsampleToResize});
    table.push_back({"Resize", 11, {}, resize10ToResize});
    table.push_back({"Resize", kEveryOpset, {}, resizeUnusedInputsToOmitted});
    table.push_back({"GridSample", 20, {}, gridSampleModeNames});
    table.push_back({"RoiAlign", 16, {}, roiAlignLegacyCoordinates});
}

}  // namespace kiln::onnx_import
