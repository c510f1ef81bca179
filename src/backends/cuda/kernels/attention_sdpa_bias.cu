// attn_mask as cuDNN SDPA's bias, and the zeroing of the rows ONNX leaves without keys
// (attention_sdpa_bias.h). One warp per bias row: a first pass over the row's allowed keys finds its
// largest mask value and whether any key is left, a second writes the shifted row.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/attention_mask.cuh"
#include "backends/cuda/kernels/attention_sdpa_bias.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"

namespace kiln::cuda {

namespace {

constexpr int kBiasBlock = 128;
constexpr int kRowsPerBlock = kBiasBlock / 32;
// What a masked key's bias becomes: exact in float16 and bfloat16, and far enough below a row's greatest
// bias (0) that exp() of the difference is 0 in float for any score a softmax meets.
constexpr float kMaskedBias = -32768.f;

template <typename T>
__global__ void __launch_bounds__(kBiasBlock)
    sdpaBiasKernel(const void* mask, MaskType type, SdpaBiasShape s, T* bias, uint8_t* deadRows) {
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
    if (row >= s.batch * s.heads * s.rows) return;  // whole warps leave: the reductions below are per warp
    const int lane = threadIdx.x % 32;
    const int64_t i = row % s.rows, h = (row / s.rows) % s.heads, b = row / (s.rows * s.heads);
    const int64_t at = b * s.maskStrides[0] + h * s.maskStrides[1] + i * s.maskStrides[2];
    // Keys the causal frontier and the mask's extent leave to this row: [0, allowed).
    const int64_t allowed = min(s.causal ? min(i + 1, s.keys) : s.keys, s.maskKeys);

    float rowMax = -INFINITY;
    int anyKey = 0;  // as ONNX decides a live row: some allowed key whose bias is not -inf (NaN counts)
    for (int64_t j = lane; j < allowed; j += 32) {
        const float v = maskValue(mask, type, at + j);
        rowMax = fmaxf(rowMax, v);
        anyKey |= v != -INFINITY;
    }
    rowMax = blockMax<32>(rowMax, static_cast<float*>(nullptr));
    const bool dead = __any_sync(0xffffffffu, anyKey) == 0;

    T* out = bias + row * s.rowStride;
    for (int64_t j = lane; j < s.keys; j += 32) {
        float v = kMaskedBias;
        if (!dead && j < allowed) {
            v = maskValue(mask, type, at + j) - rowMax;
            // Not fmaxf: a NaN bias stays NaN, as it makes ONNX's row NaN.
            if (v < kMaskedBias) v = kMaskedBias;
        }
        out[j] = store<T>(v);
    }
    if (lane == 0) deadRows[row] = dead ? 1 : 0;
}

/// One thread per row of Y: rows are dead rarely, so nearly every thread reads its mark and leaves.
__global__ void zeroDeadRowsKernel(uint16_t* y, SdpaOutputRows r, SdpaBiasShape s, const uint8_t* deadRows,
                                   int64_t rowCount) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < rowCount; row += step) {
        const int64_t i = row % r.seq, bh = row / r.seq;
        const int64_t h = bh % r.heads, b = bh / r.heads;
        // The bias row of (b, h, i): batch, heads and query rows have extent 1 where the bias broadcasts.
        const int64_t biasRow =
            ((s.batch > 1 ? b : 0) * s.heads + (s.heads > 1 ? h : 0)) * s.rows + (s.rows > 1 ? i : 0);
        if (!deadRows[biasRow]) continue;
        uint16_t* out = y + b * r.strides[0] + h * r.strides[1] + i * r.strides[2];
        for (int64_t d = 0; d < r.head; ++d) out[d] = 0;  // +0 in both types
    }
}

}  // namespace

Status launchSdpaBias(DataType type, const void* mask, const SdpaBiasShape& shape, void* bias, uint8_t* deadRows,
                      cudaStream_t stream) {
    const int64_t rows = shape.batch * shape.heads * shape.rows;
    if (rows == 0) return Status::ok();
    const unsigned grid = static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock);
    const MaskType maskType = maskTypeOf(shape.maskType);
    return DeviceTypes<__half, __nv_bfloat16>::dispatchStatus(
        type, unsupported(std::string("cuDNN's attention bias is float16 or bfloat16, not ") + dataTypeName(type)),
        [&](auto tag) {
            using T = decltype(tag);
            sdpaBiasKernel<T><<<grid, kBiasBlock, 0, stream>>>(mask, maskType, shape, static_cast<T*>(bias), deadRows);
            return launchStatus("sdpaBiasKernel");
        });
}

Status launchZeroDeadRows(void* y, const SdpaOutputRows& rows, const SdpaBiasShape& bias, const uint8_t* deadRows,
                          cudaStream_t stream) {
    const int64_t count = rows.batch * rows.heads * rows.seq;
    if (count == 0 || rows.head == 0) return Status::ok();
    zeroDeadRowsKernel<<<elementwiseGrid(count), kElementwiseBlock, 0, stream>>>(static_cast<uint16_t*>(y), rows, bias,
                                                                                 deadRows, count);
    return launchStatus("zeroDeadRowsKernel");
}

}  // namespace kiln::cuda
