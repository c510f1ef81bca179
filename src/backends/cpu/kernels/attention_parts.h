#pragma once
// Parts of the CPU Attention kernel (attention.cpp): the additive bias of one score row
// (attention_bias.cpp) that combines attn_mask, the causal mask, the sliding window and
// nonpad_kv_seqlen's padding. Where the heads lie in each tensor: backends/attention_layout.h.

#include <cstdint>
#include <string>

#include "backends/tensor_view.h"
#include "common/status.h"

namespace kiln::cpu {

/// The sizes every part of one attention call agrees on.
struct AttentionSizes {
    int64_t batch{0}, qHeads{0}, kvHeads{0}, qSeq{0};
    int64_t past{0};   // keys from past_key, before the new ones
    int64_t total{0};  // past + new keys: the score row's length
};

/// Which keys a query row may see, written as an additive bias row: 0 where allowed, -inf where
/// masked, or attn_mask's float value. ONNX's order: the causal frontier and the sliding window are
/// placed relative to the query's absolute position i + offset, where offset is the number of keys
/// before the query block (past length with a KV cache, nonpad_kv_seqlen[b] - q_seq with an external
/// cache, else 0); a key axis of attn_mask shorter than the keys is padded with "masked".
class AttentionBias {
public:
    struct Rules {
        bool causal{false};
        int64_t leftWindow{-1}, rightWindow{-1};  // -1: unbounded on that side
    };

    /// Checks `mask` (may be null) against the sizes and records its broadcast strides. `name` is the
    /// node's description, for errors.
    Status plan(const TensorView* mask, bool hasNonpad, const AttentionSizes& sizes, const Rules& rules,
                const std::string& name);

    /// Writes the bias of query row i of (batch b, query head h) into row[0, total). Returns whether
    /// any key is allowed: ONNX decides a fully masked row on the bias, not on the scores, and gives
    /// such a row zero probabilities. `mask`/`nonpad` are this run's data (null when absent).
    bool fill(const TensorView* mask, const int64_t* nonpad, int64_t b, int64_t h, int64_t i, float* row) const;

private:
    AttentionSizes mSizes;
    Rules mRules;
    bool mHasNonpad{false};
    bool mHasMask{false};
    int64_t mMaskKeys{0};       // extent of the mask's key axis (<= total)
    int64_t mMaskStrides[3]{};  // element strides along batch, head, query (0: broadcast)
};

}  // namespace kiln::cpu
