#pragma once
#include "passes/pass.h"

namespace kiln {

/// Transpose / reshape cancellation: Transpose(Transpose(x, p1), p2) becomes one Transpose with
/// the composed permutation (or nothing, when it is the identity), and Reshape(Reshape(x, s1), s2)
/// with a constant s2 free of 0 entries becomes Reshape(x, s2).
class LayoutCancellation : public Pass {
public:
    const char* name() const override { return "layout-cancellation"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
