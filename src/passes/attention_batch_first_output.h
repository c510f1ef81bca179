#pragma once
#include "passes/pass.h"

namespace kiln {

/// torch's nn.MultiheadAttention(batch_first=True) computes sequence first and exports its output
/// projection between two transposes: Y [b, heads, s, head] -> Transpose(2, 0, 1, 3) -> Reshape
/// [s * b, width] -> Gemm / MatMul -> Reshape [s, b, out] -> Transpose(1, 0, 2) -> [b, s, out]. The
/// projection acts on each row alone, so the rows in batch-first order give the same result without
/// either copy: Attention writes its 3-D [b, s, width] form (an attention that reads its Q, K and V by
/// strides, attention-strided-inputs, whose output layout is Kiln's to choose), and Reshapes around the
/// projection keep it batch-first.
class AttentionBatchFirstOutput : public Pass {
public:
    const char* name() const override { return "attention-batch-first-output"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
