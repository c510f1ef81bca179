#pragma once
#include "passes/pass.h"

namespace kiln {

/// Recognizes scaled dot-product attention on 4-D [batch, heads, seq, head_size] tensors,
/// MatMul(Q, Transpose(K)) -> (Div | Mul by a scalar) -> (Add mask) -> Softmax(last axis) ->
/// MatMul(., V), where Q and K may each be scaled by a scalar first (torch's exported
/// scaled_dot_product_attention multiplies both by sqrt(scale)), and replaces it with one Attention
/// layer (ONNX's op), which backends implement without writing the score matrix to memory.
class AttentionFusion : public Pass {
public:
    const char* name() const override { return "attention-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
