// Upgrades of the reductions: `axes` moved from an attribute to optional input 1 (ReduceSum in
// opset 13, the other Reduce* in opset 18). An absent or empty list reduced every axis before; an
// omitted input with noop_with_empty_axes = 0 (its default) does the same now.

#include "frontend/onnx/opset_upgrade.h"

namespace kiln::onnx_import {

namespace {

Status reduceAxesToInput(UpgradeContext& ctx) {
    return moveIntsAttributeToInput(ctx, "axes", 1, EmptyList::kOmitInput);
}

}  // namespace

void addReduceUpgrades(std::vector<OpsetUpgrade>& table) {
    table.push_back({"ReduceSum", 13, {}, reduceAxesToInput});
    for (const char* op : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                           "ReduceLogSumExp", "ReduceSumSquare"})
        table.push_back({op, 18, {}, reduceAxesToInput});
}

}  // namespace kiln::onnx_import
