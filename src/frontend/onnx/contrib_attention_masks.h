#pragma once
// The masks of ONNX Runtime's attention ops (Attention, MultiHeadAttention) as one additive float
// mask for ONNX's Attention, with ONNX Runtime's values: 0 where a key is kept and mask_filter_value
// (-10000 by default, not -inf) where it is masked, added up where several masks apply (padding, the
// causal triangle of `unidirectional`, attention_bias), so rows whose keys are all masked match too.

#include "common/status.h"
#include "frontend/onnx/contrib_expansion.h"

namespace kiln::onnx_import::contrib {

struct AttentionMaskSource {
    Value* queries;  // [batch, sequence, ...]: the mask's element type and query count
    Value* keys;     // [batch, key sequence, ...]
    float filter;    // mask_filter_value
};

/// A key padding mask, broadcastable to [batch, heads, sequence, keys]: [batch] lengths (right
/// padding: key j of row b kept while j < length[b]), or a [batch, keys] or [batch, sequence, keys]
/// 0/1 mask (nonzero keeps). `what` names the input in errors.
Expected<Value*> paddingMask(ExpansionContext& ctx, Value* mask, const AttentionMaskSource& source, const char* what);

/// mask_filter_value above the diagonal of a [sequence, keys] matrix, 0 on and below it.
Value* causalMask(ExpansionContext& ctx, const AttentionMaskSource& source);

/// a + b, where either may be absent (nullptr).
Value* sumOf(ExpansionContext& ctx, Value* a, Value* b);

}  // namespace kiln::onnx_import::contrib
