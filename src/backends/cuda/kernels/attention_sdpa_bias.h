#pragma once
// attn_mask as cuDNN's SDPA takes it (attention_cudnn.h): a dense additive bias [batch, heads, q_seq, keys]
// in Q's type, batch and heads of extent 1 where the mask broadcasts over them, written into the
// kernel's workspace before each run; and the repair of what cuDNN cannot know: ONNX gives a query row
// that no key may attend (every allowed mask value -inf, or a bool row of false) zero probabilities,
// so such rows are marked while the bias is written and zeroed in Y after cuDNN's kernel.
//
// Each bias row is shifted by its largest allowed mask value (softmax does not change) and clamped
// from below at a finite "masked" value: the row's greatest bias is then 0, a key masked by -inf or
// far below the row's best contributes exp(-32768 + ...) = 0 as in ONNX's float softmax, and no bias
// is infinite, so a tile of keys the bias drops entirely cannot give cuDNN's softmax -inf - -inf = NaN.
// Shifted values are rounded once to Q's type, as cuDNN reads its bias.

#include <cuda_runtime.h>

#include <cstdint>

#include "common/status.h"
#include "ir/dtype.h"

namespace kiln::cuda {

struct SdpaBiasShape {
    DataType maskType{DataType::kFLOAT};
    int64_t maskKeys{0};       // the mask's key extent; keys past it are masked (ONNX pads with -inf)
    int64_t maskStrides[3]{};  // mask element strides along batch, query head and query row; 0: broadcast
    int64_t batch{1}, heads{1}, rows{0}, keys{0};  // the bias's extents
    int64_t rowStride{0};  // elements from one bias row to the next (keys rounded up to 16 bytes)
    bool causal{false};    // query row i keeps keys 0..i only (ONNX's causal frontier without a cache)
};

/// Writes the bias (float16 or bfloat16, `type`) and one byte per bias row: 1 where no key is left.
Status launchSdpaBias(DataType type, const void* mask, const SdpaBiasShape& shape, void* bias, uint8_t* deadRows,
                      cudaStream_t stream);

/// Y (2-byte elements) as [batch, heads, seq, head] with element strides along its first three axes.
struct SdpaOutputRows {
    int64_t batch{0}, heads{0}, seq{0}, head{0};
    int64_t strides[3]{};
};

/// Zeroes the rows of Y whose bias row `launchSdpaBias` marked.
Status launchZeroDeadRows(void* y, const SdpaOutputRows& rows, const SdpaBiasShape& bias, const uint8_t* deadRows,
                          cudaStream_t stream);

}  // namespace kiln::cuda
