#pragma once
#include "passes/pass.h"

namespace kiln {

/// Feeds Attention its [batch, seq, heads * head] tensors directly. Exporters split heads around
/// attention with Reshape [b, s, h, d] -> Transpose(0, 2, 1, 3) on each of Q, K and V and merge them after
/// it with Transpose(0, 2, 1, 3) -> Reshape [b, s, h * d]: four full copies per layer that ONNX's 3-D
/// Attention (q_num_heads, kv_num_heads) makes unnecessary, since its kernels read heads by stride. The
/// rewrite applies only where the Reshapes provably split or merge the last axis alone: their targets are
/// constants (0 copying a dim) or the Concat of the input's own leading dims (Shape -> Gather ->
/// Unsqueeze, or Shape -> Slice, as a dynamic batch exports them) and constant head extents.
class AttentionHeadLayout : public Pass {
public:
    const char* name() const override { return "attention-head-layout"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
