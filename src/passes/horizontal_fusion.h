#pragma once
#include "passes/pass.h"

namespace kiln {

/// Horizontal fusion (seed 003: "aggregating layers with the same source"): sibling matrix
/// multiplies that read the same input with constant [K, N_i] weights (e.g. attention's Q, K and V
/// projections), with equal epilogues, become one multiply by the concatenated [K, sum N_i] weights
/// followed by a Split — one large GEMM instead of several small ones.
class HorizontalFusion : public Pass {
public:
    const char* name() const override { return "horizontal-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
