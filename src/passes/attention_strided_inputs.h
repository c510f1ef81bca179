#pragma once
#include "passes/pass.h"

namespace kiln {

/// Feeds Attention the tensors its Q, K and V were copied out of. Exporters split a packed QKV projection
/// with data-movement chains (BERT after horizontal fusion: one Split; torch's nn.MultiheadAttention: a
/// Reshape -> Unsqueeze -> Transpose -> Squeeze -> Gather per tensor, then a Reshape -> Transpose -> Reshape
/// to its heads), each op a full copy. Where such a chain's shapes are static it is one strided view of
/// the projection (passes/strided_view.h): Attention takes the projection and the view
/// (kiln_qkv_views, ir/ops/attention_views.h), and dead-layer elimination drops the copies.
/// Views whose offset or strides are not multiples of 8 elements are left alone, so the 16-byte vector
/// loads of fused attention kernels (cuDNN's) still apply.
class AttentionStridedInputs : public Pass {
public:
    const char* name() const override { return "attention-strided-inputs"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
