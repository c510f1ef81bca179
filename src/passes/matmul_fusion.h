#pragma once
#include "passes/pass.h"

namespace kiln {

/// Vertical fusion of a matrix multiply with its bias, residual and activation: MatMul -> Add(1-D
/// constant over the last axis) -> Add(a tensor of the product's exact shape: a transformer's residual)
/// -> activation, each step optional, becomes one kiln::FusedMatMul (a GEMM epilogue). A FusedMatMul
/// without activation and residual takes a following residual Add and activation too.
class MatMulFusion : public Pass {
public:
    const char* name() const override { return "matmul-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
