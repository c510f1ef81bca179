#pragma once
// A channels-last convolution over few input channels reads its NCHW input itself (the form of
// ir/ops/layout_attributes.h with kInputChannelsFirstAttribute = 1), in place of a Transpose to NHWC.
//
// Why: a network's first convolution (the RGB stem of MobileNets, ResNets, EfficientNets, YOLO ...) reads
// the NCHW image the graph takes. The channels-last layout (channels_last_layout.h) puts a Transpose to
// NHWC before it, which moves the whole image through memory once more, and leaves the convolution
// reading 3 channels of 2 or 4 bytes a pixel, which no kernel reads in wide, coalesced loads. Read as
// NCHW, each channel's rows are contiguous: the convolution's kernel loads them coalesced and writes its
// NHWC output in wide vectors, and the Transpose goes away (MobileNetV2 FP16 at batch 256 on an H200:
// 0.16 ms of Transpose and most of the stem's 0.48 ms).
//
// The rewrite: a Transpose with perm (0, 2, 3, 1) whose only reader is a channels-last kiln::FusedConv's
// X, with group 1, at most kChannelsFirstInputMaxChannels input channels and kChannelsFirstInputMaxTaps
// multiply-adds per output, becomes that FusedConv reading
// the Transpose's input with kInputChannelsFirstAttribute = 1, where the backend supports the rewritten
// layer (the predicate). Where the Transpose's input is made by a Cast from float to float16 / bfloat16
// that nothing else reads (precision assignment's, on a float graph input), the convolution reads the
// float image and the Cast goes too, where the backend supports that. A Transpose with other readers
// stays: they would still need it, and the convolution would then read the image a second time.

#include "passes/pass.h"
#include "passes/precision_assignment.h"

namespace kiln {

class ChannelsFirstConvInput : public Pass {
public:
    /// `supports` says which layers the target backend runs.
    explicit ChannelsFirstConvInput(BackendSupport supports) : mSupports(std::move(supports)) {}

    const char* name() const override { return "channels-first conv input"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;

private:
    BackendSupport mSupports;
};

}  // namespace kiln
