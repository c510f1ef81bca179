// Image ops: LRN (local response normalization across channels) and GridSample (sampling an
// image at the grid's normalized coordinates).

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

Status inferLrn(InferenceContext& ctx) {
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("X must be floating-point");
    if (ctx.inputRank(0) < 3) return ctx.error("X must have rank >= 3 (N x C x D1 ...)");
    auto size = ctx.attrs().getInt("size");
    if (!size || *size < 1) return ctx.error("attribute 'size' (>= 1) is required");
    ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
    return Status::ok();
}

Status inferGridSample(InferenceContext& ctx) {
    const SymShape& x = ctx.inputShape(0);
    const SymShape& grid = ctx.inputShape(1);
    if (x.size() < 3) return ctx.error("X must have rank >= 3 (N x C x D1 ...)");
    if (grid.size() != x.size()) return ctx.error("grid must have X's rank (N x D1_out ... x " + std::to_string(x.size() - 2) + ")");
    const Dim& last = grid.back();
    if (last.isKnown() && last.value != static_cast<int64_t>(x.size()) - 2)
        return ctx.error("grid's last dimension must be " + std::to_string(x.size() - 2) + ", got " + std::to_string(last.value));
    if (!isFloatingType(ctx.inputType(1))) return ctx.error("grid must be floating-point");
    const std::string mode = ctx.attrs().getString("mode", "linear");
    if (mode != "linear" && mode != "nearest" && mode != "cubic" && mode != "bilinear" && mode != "bicubic")
        return ctx.error("mode '" + mode + "' is not one of linear, nearest, cubic");
    const std::string padding = ctx.attrs().getString("padding_mode", "zeros");
    if (padding != "zeros" && padding != "border" && padding != "reflection")
        return ctx.error("padding_mode '" + padding + "' is not one of zeros, border, reflection");
    SymShape out{x[0], x[1]};
    for (size_t i = 1; i + 1 < grid.size(); ++i) out.push_back(grid[i]);
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

}  // namespace

void registerImageOps(OpRegistry& registry) {
    registry.add({"LRN", "", inferLrn, 1, 1});
    registry.add({"GridSample", "", inferGridSample, 2, 2});
}

}  // namespace kiln
