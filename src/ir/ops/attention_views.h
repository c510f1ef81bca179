#pragma once
// Attention reading Q, K and V by strides (kiln_qkv_views): the builder's attention-strided-inputs pass
// (passes/attention_strided_inputs.h) points Attention's Q, K and V inputs at the tensors the exporter's
// head splits were copied from (a packed QKV projection, usually) and records here where each of them
// lies in its source, so the Split / Transpose / Gather copies between them go. The attribute is Kiln's
// (never imported): the ONNX op's inference and every backend's Attention kernel read it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/attribute.h"

namespace kiln {

inline constexpr const char* kQkvViewsAttribute = "kiln_qkv_views";

/// Where the [batch, heads, seq, headSize] elements of Q, K or V lie in their input: element
/// (b, h, s, d) is at offset + b * batchStride + h * headStride + s * seqStride + d.
struct AttentionInputView {
    int64_t batch{0}, heads{0}, seq{0}, headSize{0};
    int64_t offset{0}, batchStride{0}, headStride{0}, seqStride{0};
    /// One past the largest element index it reads (0 when it is empty).
    int64_t extent() const;
};

struct AttentionInputViews {
    int64_t outputRank{4};  // Y stays as the node's ONNX form had it: 4-D BHSD or 3-D [b, s, heads * head]
    std::array<AttentionInputView, 3> qkv;
};

/// The attribute's ints: outputRank, then Q, K and V as batch, heads, seq, headSize, offset, batchStride,
/// headStride, seqStride.
std::vector<int64_t> encodeAttentionInputViews(const AttentionInputViews& views);
/// The node's views; nullopt without the attribute; an error message for a malformed one.
struct DecodedAttentionInputViews {
    std::optional<AttentionInputViews> views;
    std::string error;
};
DecodedAttentionInputViews decodeAttentionInputViews(const AttributeMap& attrs);

}  // namespace kiln
