// Upgrades of the activations: Clip's bounds and the legacy 2-D semantics of the softmax family.

#include "frontend/onnx/opset_upgrade.h"

namespace kiln::onnx_import {

namespace {

// Clip-11: `min` and `max` moved from attributes to optional inputs 1 and 2, scalars of the
// input's element type.
Status clipBoundsToInputs(UpgradeContext& ctx) {
    const DataType type = ctx.inputType(0, DataType::kFLOAT);
    const std::pair<const char*, size_t> bounds[] = {{"min", 1}, {"max", 2}};
    for (const auto& [attr, index] : bounds) {
        if (!ctx.attrs().has(attr)) continue;
        std::optional<float> value = ctx.attrs().getFloat(attr);
        if (!value) return invalidModel(std::string("attribute '") + attr + "' must be a float");
        ctx.attrs().erase(attr);
        ctx.setInput(index, ctx.addConstant(attr, scalarOfType(type, *value)));
    }
    return Status::ok();
}

// Softmax-13, LogSoftmax-13, Hardmax-13: the op normalizes along `axis` (default -1). Before, the
// input was coerced to 2-D at `axis` (default 1) and normalized along the second dimension. The
// two agree when `axis` is the last dimension, the common case, which keeps one node; otherwise
// the old semantics become Reshape(Op(Flatten(x, axis), axis = -1), Shape(x)).
Status legacyCoercedAxisToAxis(UpgradeContext& ctx) {
    const int64_t axis = ctx.attrs().getInt("axis", 1);
    if (std::optional<int64_t> rank = ctx.inputRank(0)) {
        std::optional<int64_t> normalized = normalizeAxis(axis, *rank);
        if (!normalized)
            return invalidModel("axis " + std::to_string(axis) + " is out of range for an input of rank " +
                                std::to_string(*rank));
        if (*normalized == *rank - 1) {
            ctx.attrs().set("axis", int64_t{-1});
            return Status::ok();
        }
    }
    Value* x = ctx.input(0);
    Value* shape = ctx.addNode("Shape", "Shape", {x});
    AttributeMap flattenAttrs;
    flattenAttrs.set("axis", axis);
    Value* flat = ctx.addNode("Flatten", "Flatten", {x}, flattenAttrs);
    AttributeMap opAttrs = ctx.attrs();
    opAttrs.set("axis", int64_t{-1});
    const std::string opType = ctx.node().opType;
    Value* normalized = ctx.addNode(opType, opType, {flat}, opAttrs);
    // allowzero: a 0 in Shape(x) is a real (empty) extent, not "copy this dimension".
    AttributeMap reshapeAttrs;
    reshapeAttrs.set("allowzero", int64_t{1});
    ctx.node().opType = "Reshape";
    ctx.node().inputs = {normalized, shape};
    ctx.node().attrs = reshapeAttrs;
    return Status::ok();
}

}  // namespace

void addActivationUpgrades(std::vector<OpsetUpgrade>& table) {
    table.push_back({"Clip", 11, {}, clipBoundsToInputs});
    table.push_back({"Softmax", 13, {"Shape", "Flatten", "Softmax", "Reshape"}, legacyCoercedAxisToAxis});
    table.push_back({"LogSoftmax", 13, {"Shape", "Flatten", "LogSoftmax", "Reshape"}, legacyCoercedAxisToAxis});
    table.push_back({"Hardmax", 13, {"Shape", "Flatten", "Hardmax", "Reshape"}, legacyCoercedAxisToAxis});
}

}  // namespace kiln::onnx_import
