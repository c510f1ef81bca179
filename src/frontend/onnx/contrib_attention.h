#pragma once
// What ONNX Runtime's attention ops (Attention, MultiHeadAttention) share once their Q, K and V are
// [batch, sequence, hidden] tensors: ONNX's Attention with num_heads heads, and their masks as one
// additive float mask, with ONNX Runtime's values: 0 where a key is kept and mask_filter_value
// (-10000 by default, not -inf) where it is masked, added up where several masks apply (padding, the
// causal triangle of `unidirectional`, attention_bias), so rows whose keys are all masked match too.

#include "common/status.h"
#include "frontend/onnx/contrib_expansion.h"

namespace kiln::onnx_import::contrib {

/// ONNX's Attention over 3-D `q`, `k`, `v` as the expanded node's output 0, with the node's num_heads
/// (`heads`), scale, mask_filter_value and unidirectional attributes, its key padding mask `padding`
/// (nullptr: none; `paddingName` names it in errors) and `attentionBias` (nullptr: none).
Status emitAttention(ExpansionContext& ctx, Value* q, Value* k, Value* v, int64_t heads, Value* padding,
                     const char* paddingName, Value* attentionBias);

}  // namespace kiln::onnx_import::contrib
