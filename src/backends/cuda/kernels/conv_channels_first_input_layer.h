#pragma once
// kiln::FusedConv with kInputChannelsFirstAttribute = 1 (X NCHW, W, Z and Y channels-last:
// ir/ops/layout_attributes.h) as a CUDA layer: conv.cpp hands such a node here. It has one tactic, the
// kernel of conv_channels_first_input.h; cuDNN is not asked, since the form exists for that kernel (the
// channels-first input pass makes it only where this support check accepts it).

#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/kernels/fused_activation.h"
#include "ir/graph.h"

namespace kiln::cuda {

/// Whether the CUDA backend runs this FusedConv with NCHW X: channels-last, group 1, 1 to
/// kChannelsFirstInputMaxChannels input channels; W, Y and the residual of one type (float, float16 or
/// bfloat16), X of that type or float, the bias of that type or float; a fused activation the epilogue
/// has; and (where the shapes are known) a shape the kernel takes. Sets `reason` when not.
bool channelsFirstInputConvSupported(const Node& node, std::string* reason);

/// The layer's kernel.
std::unique_ptr<Kernel> createChannelsFirstInputConv(const Node& node, const FusedActivation& activation);

}  // namespace kiln::cuda
