#pragma once
// The channels-last (NHWC) forms of Kiln's own layers, which the builder's channels-last layout pass
// (passes/channels_last_layout.h) makes for the CUDA backend, where cuDNN's tensor-core convolutions
// read and write NHWC without reformatting. Tensor shapes in these forms are the physical ones:
//   kiln::FusedConv with kChannelsLastAttribute = 1 (2-D convolutions only):
//     X [N, H, W, C], W [K, R, S, C/group], residual Z and Y [N, OH, OW, K], bias B [K];
//     the convolution attributes (kernel_shape, pads, strides, dilations, group, auto_pad) keep their
//     ONNX meaning over the spatial axes H and W.
//   kiln::FusedConv with kChannelsLastAttribute = 1 and kInputChannelsFirstAttribute = 1: the same, but
//     X is [N, C, H, W] (NCHW); W, Z and Y stay channels-last. Made by passes/channels_first_conv_input.h
//     for convolutions over few input channels (an RGB stem) that read the NCHW graph input: the kernel
//     reads the image as it is, and the Transpose to NHWC before it goes away. X may be float while W, Z
//     and Y are float16 or bfloat16 (the layer's type): the Cast that rounded the image is folded in.
//   kiln::ChannelsLastPool: MaxPool (one output, no Indices) or AveragePool, named by its string
//     attribute `pool`, over X [N, H, W, C] to Y [N, OH, OW, C], with the ONNX op's own attributes.

#include <cstdint>

namespace kiln {

/// Int attribute of kiln::FusedConv: 1 when its tensors are channels-last (above). Absent or 0: NCHW.
inline constexpr const char* kChannelsLastAttribute = "kiln_channels_last";

/// Int attribute of a channels-last kiln::FusedConv: 1 when its X alone is NCHW (above). Absent or 0: X is NHWC.
inline constexpr const char* kInputChannelsFirstAttribute = "kiln_input_channels_first";

/// Input channels at most of a FusedConv that reads NCHW X: one pixel's channels lie H*W elements apart,
/// so the form pays only where a pixel has few of them (an image's 1 to 4).
inline constexpr int64_t kChannelsFirstInputMaxChannels = 4;

/// Multiply-adds per output element (C x R x S) at most of a convolution the channels-first conv input pass
/// gives that form: its CUDA kernel computes on the CUDA cores in float, which stays memory-bound for
/// MobileNet's 3x3 RGB stem (27) or a 4x4 patchify stem over 4 channels (64), while ResNet's 7x7 RGB stem
/// (147; about 60 GFLOP at batch 256) runs faster in cuDNN's tensor-core plans behind the Transpose.
inline constexpr int64_t kChannelsFirstInputMaxTaps = 64;

/// String attribute of kiln::ChannelsLastPool: the ONNX pooling op it computes ("MaxPool" or "AveragePool").
inline constexpr const char* kChannelsLastPoolAttribute = "pool";

}  // namespace kiln
