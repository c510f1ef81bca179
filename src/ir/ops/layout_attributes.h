#pragma once
// The channels-last (NHWC) forms of Kiln's own layers, which the builder's channels-last layout pass
// (passes/channels_last_layout.h) makes for the CUDA backend, where cuDNN's tensor-core convolutions
// read and write NHWC without reformatting. Tensor shapes in these forms are the physical ones:
//   kiln::FusedConv with kChannelsLastAttribute = 1 (2-D convolutions only):
//     X [N, H, W, C], W [K, R, S, C/group], residual Z and Y [N, OH, OW, K], bias B [K];
//     the convolution attributes (kernel_shape, pads, strides, dilations, group, auto_pad) keep their
//     ONNX meaning over the spatial axes H and W.
//   kiln::ChannelsLastPool: MaxPool (one output, no Indices) or AveragePool, named by its string
//     attribute `pool`, over X [N, H, W, C] to Y [N, OH, OW, C], with the ONNX op's own attributes.

namespace kiln {

/// Int attribute of kiln::FusedConv: 1 when its tensors are channels-last (above). Absent or 0: NCHW.
inline constexpr const char* kChannelsLastAttribute = "kiln_channels_last";

/// String attribute of kiln::ChannelsLastPool: the ONNX pooling op it computes ("MaxPool" or "AveragePool").
inline constexpr const char* kChannelsLastPoolAttribute = "pool";

}  // namespace kiln
