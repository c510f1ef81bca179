#pragma once
// A 2-D convolution that reads its input X channels-first (NCHW) and writes its output channels-last
// (NHWC): the CUDA kernel of kiln::FusedConv with kInputChannelsFirstAttribute = 1 (ir/ops/layout_attributes.h),
// the form passes/channels_first_conv_input.h gives a network's stem convolution over an NCHW image.
//
// Such a layer reads 1 to 4 input channels and writes tens: it streams memory. A block takes a tile of
// output pixels and a chunk of the output channels; it stages its weights (as float) and the input patch
// its tile's windows cover (all C channels, loaded along NCHW rows: coalesced) in shared memory, so each
// input element is read from global memory about once. Each thread then computes a few pixels x 8
// consecutive output channels in float and applies the FusedConv epilogue (bias, residual, activation)
// before 16-byte vector stores where K and the addresses allow (single channels otherwise).

#include <cuda_runtime.h>

#include <string>

#include "backends/cuda/kernels/conv_direct_nhwc.h"
#include "backends/cuda/kernels/fused_activation.h"
#include "common/status.h"
#include "ir/dtype.h"

namespace kiln::cuda {

/// Whether the kernel runs this convolution: X [N, C, H, W] (DirectConvShape's inC, inH, inW), W
/// [K, R, S, C], Y [N, OH, OW, K]; W and Y of `type`, float, float16 or bfloat16; X of `inputType`: `type`
/// or float (the image a Cast to `type` was folded away from); group 1 and C <= kChannelsFirstInputMaxChannels;
/// extents that fit its 32-bit offsets; a window whose weights and smallest input patch fit a block's
/// shared memory (every common kernel size does). Sets `reason` when not.
bool channelsFirstInputConvApplies(DataType type, DataType inputType, const DirectConvShape& shape,
                                   std::string* reason);

/// Y = act(conv(X, W) + bias + residual) for a shape channelsFirstInputConvApplies accepts; the bias (may
/// be null) is of `type` or float, the residual (may be null) of `type` and Y's shape.
Status launchChannelsFirstInputConv(DataType type, DataType inputType, DataType biasType, const void* x, const void* w,
                                    const void* bias, const void* residual, void* y, const DirectConvShape& shape,
                                    const FusedActivation& activation, cudaStream_t stream);

}  // namespace kiln::cuda
