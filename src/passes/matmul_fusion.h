#pragma once
#include "passes/pass.h"

namespace kiln {

/// Vertical fusion of a matrix multiply with its bias and activation: MatMul -> Add(1-D constant
/// over the last axis) -> activation becomes one kiln::FusedMatMul (a GEMM epilogue).
class MatMulFusion : public Pass {
public:
    const char* name() const override { return "matmul-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
