#pragma once
// Where the heads of Attention's Q, K, V, Y and KV cache lie in their tensors, for the CPU and CUDA
// kernels alike: 4-D [batch, heads, seq, head], 3-D [batch, seq, heads * head] (ONNX's two forms), or
// any strided view Kiln's kiln_qkv_views gives Q, K and V (ir/ops/attention_views.h).

#include <cstdint>
#include <optional>
#include <string>

#include "common/host_device.h"
#include "common/status.h"
#include "ir/ops/attention_views.h"
#include "ir/tensor.h"

namespace kiln {

/// Element (b, h, s, d) is at base + b * batchStride + h * headStride + s * seqStride + d.
struct HeadLayout {
    int64_t batch{0}, heads{0}, seq{0}, headSize{0};
    int64_t base{0}, batchStride{0}, headStride{0}, seqStride{0};
    KILN_HD int64_t offset(int64_t b, int64_t h) const { return base + b * batchStride + h * headStride; }
    KILN_HD int64_t rowStride() const { return seqStride; }
};

/// A contiguous 4-D tensor's layout, or a 3-D one's holding `numHeads` heads per row.
HeadLayout headLayoutOf(const Shape& shape, int64_t numHeads);

struct AttentionLayouts {
    HeadLayout q, k, v, y;
};

/// The layouts of one run's Q, K, V (the inputs' shapes, read through `views` where the node has them) and
/// Y, checked to fit together (batch, heads, sequences, head sizes; views within their inputs). `name`
/// starts the error message.
Expected<AttentionLayouts> attentionLayouts(const std::string& name, const Shape& q, const Shape& k, const Shape& v,
                                            const Shape& y, int64_t qHeads, int64_t kvHeads,
                                            const std::optional<AttentionInputViews>& views);

}  // namespace kiln
