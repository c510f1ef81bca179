// Opset 7 gave the binary elementwise ops (and Gemm, PRelu) numpy's multidirectional
// broadcasting. Before, B broadcast to A only with `broadcast` = 1, its dimensions lined up with
// A's from `axis` (trailing dimensions when `axis` is absent), and Dropout carried `is_test`. The
// upgrade rewrites the legacy form into the numpy one: B gets unit trailing dimensions appended
// (an Unsqueeze) so that numpy's right-aligned rule lines its dimensions up at `axis`.

#include "frontend/onnx/opset_upgrade.h"

namespace kiln::onnx_import {

namespace {

Status legacyBroadcastToNumpy(UpgradeContext& ctx) {
    const bool broadcast = ctx.attrs().getInt("broadcast", 0) != 0;
    const std::optional<int64_t> axis = ctx.attrs().getInt("axis");
    ctx.attrs().erase("broadcast");
    ctx.attrs().erase("axis");
    // Without broadcast the shapes are equal; without axis B lines up with A's trailing
    // dimensions: numpy's rule gives the same result in both cases.
    if (!broadcast || !axis) return Status::ok();
    const std::optional<int64_t> rankA = ctx.inputRank(0);
    const std::optional<int64_t> rankB = ctx.inputRank(1);
    if (!rankA || !rankB)
        return unsupported("legacy broadcast with axis = " + std::to_string(*axis) +
                           " needs the ranks of both inputs at import time");
    const int64_t start = *axis < 0 ? *axis + *rankA : *axis;
    const int64_t trailing = *rankA - start - *rankB;
    if (start < 0 || trailing < 0)
        return invalidModel("legacy broadcast: axis " + std::to_string(*axis) + " does not fit input B of rank " +
                            std::to_string(*rankB) + " against input A of rank " + std::to_string(*rankA));
    if (trailing == 0) return Status::ok();
    std::vector<int64_t> axes;
    for (int64_t i = 0; i < trailing; ++i) axes.push_back(*rankB + i);
    Value* axesValue = ctx.addConstant("broadcast_axes", Tensor::fromInt64(axes, {trailing}));
    ctx.setInput(1, ctx.addNode("Unsqueeze", "broadcast_b", {ctx.input(1), axesValue}));
    return Status::ok();
}

// Gemm-7 dropped `broadcast`: C broadcasts to (M, N) unidirectionally, the legacy `broadcast` = 1
// meaning, and a C of shape (M, N) needs no broadcast at all.
Status dropBroadcastAttribute(UpgradeContext& ctx) {
    ctx.attrs().erase("broadcast");
    return Status::ok();
}

// PRelu-6 applied a 1-D slope per channel (axis 1) of X; numpy's rule would line it up with
// the last axis. Trailing unit dimensions keep it on the channels.
Status preluSlopePerChannel(UpgradeContext& ctx) {
    const std::optional<int64_t> rankX = ctx.inputRank(0);
    const std::optional<int64_t> rankSlope = ctx.inputRank(1);
    if (!rankX || !rankSlope) return unsupported("a legacy PRelu needs the ranks of X and slope at import time");
    if (*rankSlope != 1 || *rankX < 3) return Status::ok();
    std::vector<int64_t> axes;
    for (int64_t i = 1; i <= *rankX - 2; ++i) axes.push_back(i);
    Value* axesValue = ctx.addConstant("slope_axes", Tensor::fromInt64(axes, {static_cast<int64_t>(axes.size())}));
    ctx.setInput(1, ctx.addNode("Unsqueeze", "slope_per_channel", {ctx.input(1), axesValue}));
    return Status::ok();
}

// Dropout-7 removed `is_test`: inference Dropout is the identity either way.
Status dropIsTest(UpgradeContext& ctx) {
    ctx.attrs().erase("is_test");
    return Status::ok();
}

}  // namespace

void addBroadcastUpgrades(std::vector<OpsetUpgrade>& table) {
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less"})
        table.push_back({op, 7, {"Unsqueeze"}, legacyBroadcastToNumpy});
    table.push_back({"Gemm", 7, {}, dropBroadcastAttribute});
    table.push_back({"PRelu", 7, {"Unsqueeze"}, preluSlopePerChannel});
    table.push_back({"Dropout", 7, {}, dropIsTest});
}

}  // namespace kiln::onnx_import
