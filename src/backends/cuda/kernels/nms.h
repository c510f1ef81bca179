#pragma once
// NonMaxSuppression's device kernel (nms.cu), for the input types it handles.

#include <memory>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln::cuda {

/// The device kernel for `node`, or nullptr when an input type has none (the caller then evaluates
/// the node on the host).
std::unique_ptr<Kernel> makeDeviceNms(const Node& node);

}  // namespace kiln::cuda
