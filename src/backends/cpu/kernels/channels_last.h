#pragma once
// The CPU forms of Kiln's channels-last layers (ir/ops/layout_attributes.h): kiln::FusedConv with
// kiln_channels_last = 1 and kiln::ChannelsLastPool. They are the reference the CUDA kernels and the
// layout pass are tested against, so they are kept plain: the NHWC inputs are transposed to NCHW, the
// NCHW kernel of the same op runs, and its output is transposed back.

#include <memory>
#include <string>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln {
class CpuKernelRegistry;
}

namespace kiln::cpu {

/// Whether `node` is a channels-last layer: a ChannelsLastPool, or a FusedConv with the attribute set.
bool isChannelsLast(const Node& node);

/// Whether the NCHW kernel of the node's op handles its NCHW form; sets `reason` when not.
bool supportsChannelsLast(const Node& node, std::string* reason);

/// The NCHW kernel of the node's op between transposes of its NHWC tensors.
Expected<std::unique_ptr<Kernel>> createChannelsLastKernel(const Node& node);

/// kiln::ChannelsLastPool (called by registerPoolingKernels).
void registerChannelsLastPoolKernels(CpuKernelRegistry& registry);

}  // namespace kiln::cpu
