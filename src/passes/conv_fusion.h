#pragma once
#include "passes/pass.h"

namespace kiln {

/// Vertical fusion of a convolution with what follows it (seed 004: "fusing convolution, bias and
/// ReLU"): Conv -> Add(residual of the output's shape) -> activation becomes one kiln::FusedConv
/// computing act(conv(x) + bias + residual) in a single pass over the output.
class ConvFusion : public Pass {
public:
    const char* name() const override { return "conv-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
