// Upgrades of ops whose training-era or experimental forms appear in older models: Dropout,
// BatchNormalization, Scatter, ImageScaler and DFT-17.

#include "frontend/onnx/opset_upgrade.h"

namespace kiln::onnx_import {

namespace {

// Dropout-12: `ratio` moved to an input. Inference Dropout is the identity whatever the ratio, so
// the attribute is dropped rather than moved.
Status dropoutDropRatio(UpgradeContext& ctx) {
    ctx.attrs().erase("ratio");
    return Status::ok();
}

// BatchNormalization-9 removed `spatial`: only spatial = 1 (statistics per channel) remains.
// `is_test` and `consumed_inputs` (removed in opsets 7 and 6) carry no meaning for inference.
Status batchNormDropLegacyAttributes(UpgradeContext& ctx) {
    if (ctx.attrs().getInt("spatial", 1) != 1)
        return unsupported("spatial = 0 (statistics per activation) is not supported");
    ctx.attrs().erase("spatial");
    ctx.attrs().erase("is_test");
    ctx.attrs().erase("consumed_inputs");
    return Status::ok();
}

// BatchNormalization-14 selects training with `training_mode`; before, a node asking for the
// mean / var / saved_mean / saved_var outputs ran in training mode, which inference cannot honour.
Status batchNormInferenceOnly(UpgradeContext& ctx) {
    const std::vector<std::string>& outputs = ctx.node().outputNames;
    for (size_t i = 1; i < outputs.size(); ++i)
        if (!outputs[i].empty())
            return unsupported("output " + std::to_string(i) + " '" + outputs[i] +
                               "' asks for training-mode statistics, which Kiln does not compute");
    return Status::ok();
}

// Scatter was deprecated in opset 11 for ScatterElements, with the same inputs and `axis`.
Status scatterToScatterElements(UpgradeContext& ctx) {
    ctx.node().opType = "ScatterElements";
    return Status::ok();
}

// ImageScaler (experimental, removed in opset 10) computes scale * x + bias[channel] on NCHW input.
Status imageScalerToMulAdd(UpgradeContext& ctx) {
    const DataType type = ctx.inputType(0, DataType::kFLOAT);
    std::optional<float> scale = ctx.attrs().getFloat("scale");
    Value* x = ctx.input(0);
    Value* scaleValue = ctx.addConstant("scale", scalarOfType(type, scale.value_or(1.0f)));
    std::optional<std::vector<float>> bias = ctx.attrs().getFloats("bias");
    ctx.node().attrs = AttributeMap();
    if (!bias) {
        ctx.node().opType = "Mul";
        ctx.node().inputs = {x, scaleValue};
        return Status::ok();
    }
    Value* scaled = ctx.addNode("Mul", "Mul", {x, scaleValue});
    std::vector<double> biasValues(bias->begin(), bias->end());
    const int64_t channels = static_cast<int64_t>(biasValues.size());
    ctx.node().opType = "Add";
    ctx.node().inputs = {scaled, ctx.addConstant("bias", tensorOfType(type, {1, channels, 1, 1}, biasValues))};
    return Status::ok();
}

// DFT-20: `axis` moved from an attribute (default 1) to optional input 2, whose default is -2; the
// old default is therefore written out.
Status dftAxisToInput(UpgradeContext& ctx) {
    const int64_t axis = ctx.attrs().getInt("axis", 1);
    ctx.attrs().erase("axis");
    ctx.setInput(2, ctx.addConstant("axis", Tensor::fromInt64({axis}, {})));
    return Status::ok();
}

}  // namespace

void addLegacyUpgrades(std::vector<OpsetUpgrade>& table) {
    table.push_back({"Dropout", 12, {}, dropoutDropRatio});
    table.push_back({"BatchNormalization", 9, {}, batchNormDropLegacyAttributes});
    table.push_back({"BatchNormalization", 14, {}, batchNormInferenceOnly});
    table.push_back({"Scatter", kEveryOpset, {"ScatterElements"}, scatterToScatterElements});
    table.push_back({"ImageScaler", kEveryOpset, {"Mul", "Add"}, imageScalerToMulAdd});
    table.push_back({"DFT", 20, {}, dftAxisToInput});
}

}  // namespace kiln::onnx_import
