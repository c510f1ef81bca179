#pragma once
// A depthwise 3x3 convolution over channels-last NHWC tensors (K == C == group, stride 1 or 2 on both
// axes, dilation 1, any padding), a tactic of the CUDA convolution beside cuDNN's plans and the general
// direct kernel (conv_direct_nhwc.h). MobileNet-style layers spend most of their time here and do 9
// multiply-adds per output element, about two per byte moved in float16, so the kernel is shaped to keep
// many loads in flight: each thread owns one 16-byte vector of channels (one channel where C or the
// addresses do not allow a vector) for a few consecutive output pixels along W (4 at stride 1, 2 at
// stride 2), loads its input window with independent, predicated loads ahead of the arithmetic, reads the
// block's weights from shared memory, accumulates in float and applies the FusedConv epilogue (bias,
// residual, activation) before one store per pixel.

#include <cuda_runtime.h>

#include "backends/cuda/kernels/conv_direct_nhwc.h"
#include "backends/cuda/kernels/fused_activation.h"
#include "common/status.h"
#include "ir/dtype.h"

namespace kiln::cuda {

/// Whether the depthwise 3x3 kernel runs a convolution of this type and shape: float, float16 or
/// bfloat16; K == C == group; a 3x3 window with dilation 1; stride 1 or 2, the same on both axes;
/// extents that fit its 32-bit offsets.
bool depthwise3x3Applies(DataType type, const DirectConvShape& shape);

/// Y = act(conv(X, W) + bias + residual) for a shape depthwise3x3Applies accepts: X [N, H, W, C],
/// W [C, 3, 3, 1], Y and the residual (may be null) [N, OH, OW, C] of `type`; the bias (may be null) of
/// `type` or float.
Status launchDepthwise3x3Nhwc(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                              const void* residual, void* y, const DirectConvShape& shape,
                              const FusedActivation& activation, cudaStream_t stream);

/// The same convolution by the tiled form (conv_depthwise3x3_tiled.cu): a block walks output tiles of one
/// channel tile, copying the next tile's input to shared memory by cp.async while it computes the current
/// one from there. It takes C in whole 16-byte vectors and 16-byte aligned X, Y and residual; other layers
/// run launchDepthwise3x3Nhwc's form.
Status launchDepthwise3x3NhwcTiled(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                                   const void* residual, void* y, const DirectConvShape& shape,
                                   const FusedActivation& activation, cudaStream_t stream);

}  // namespace kiln::cuda
