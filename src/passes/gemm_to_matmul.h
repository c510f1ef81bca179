#pragma once
#include "passes/pass.h"

namespace kiln {

/// ONNX Gemm as a MatMul and an Add, where that is exact: Y = A B' + C with alpha 1, A not transposed, B a
/// constant matrix (B' = B, or B^T transposed at build time for transB = 1 where nothing else reads B, so
/// the weights are not held twice) and C absent or taken with beta 1 (C broadcasts to [M, N] as an Add
/// broadcasts it). Matmul fusion then takes the Add of a bias row
/// [N] (or of a residual [M, N]) and a following activation into one FusedMatMul, with the GEMM tactics a
/// product has (cuBLASLt's epilogues, CUTLASS), where a Gemm layer copies C into Y and accumulates its
/// product onto it. This is the form of a classifier head, BERT's pooler, and the attention output of
/// PyTorch's MultiheadAttention (ViT).
class GemmToMatMul : public Pass {
public:
    const char* name() const override { return "gemm-to-matmul"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
