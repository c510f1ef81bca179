#pragma once
// Kiln's own direct convolution over channels-last NHWC tensors, a tactic of the CUDA convolution beside
// cuDNN's plans (conv.cpp) for the convolutions cuDNN's tensor-core engines serve worst: those that read
// few input channels per output (depthwise ones, and stems over RGB images). Such a layer does little
// arithmetic per byte, so the kernel is built to stream memory: one thread per output pixel and vector of
// consecutive output channels (16 bytes where the channel count and the addresses allow), float
// accumulation, the FusedConv epilogue (bias, residual, activation) applied before the one store.

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels/fused_activation.h"
#include "common/status.h"
#include "ir/dtype.h"

namespace kiln::cuda {

/// A 2-D grouped convolution's extents: X [N, H, W, C], W [K, R, S, C/group], Y [N, OH, OW, K].
struct DirectConvShape {
    int32_t batch{0}, inH{0}, inW{0}, inC{0};
    int32_t outH{0}, outW{0}, outC{0};
    int32_t kernelH{0}, kernelW{0};
    int32_t strideH{1}, strideW{1}, dilationH{1}, dilationW{1};
    int32_t padTop{0}, padLeft{0};
    int32_t group{1};
};

/// Input channels per group at most for the direct kernel to be a candidate: past a few, each output
/// reads enough to make the tensor cores' implicit GEMM the better engine.
inline constexpr int64_t kDirectConvMaxChannelsPerGroup = 4;

/// Whether the direct kernel runs this convolution: float, float16 or bfloat16, few input channels per
/// group, and extents that fit its 32-bit offsets.
bool directConvApplies(DataType type, int64_t batch, int64_t inH, int64_t inW, int64_t inC, int64_t outH,
                       int64_t outW, int64_t outC, int64_t group);

/// Output pixels per thread of the direct kernel's wide form: consecutive along W, so each tap's weights
/// are read once for all of them (the narrow form computes one). Both are tactics: which is faster
/// depends on the layer (a narrow row leaves the wide form's threads idle).
inline constexpr int kDirectConvWidePixels = 4;

/// Y = act(conv(X, W) + bias + residual) on float, float16 or bfloat16 NHWC data; the bias (may be null)
/// is of `type` or float, the residual (may be null) of `type` and Y's shape. `pixelsPerThread`: 1 or
/// kDirectConvWidePixels.
Status launchDirectConvNhwc(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                            const void* residual, void* y, const DirectConvShape& shape,
                            const FusedActivation& activation, int pixelsPerThread, cudaStream_t stream);

}  // namespace kiln::cuda
