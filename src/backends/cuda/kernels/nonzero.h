#pragma once
// NonZero's device kernel (nonzero.cu), for the types and ranks it handles.

#include <memory>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln::cuda {

/// The device kernel for `node`, or nullptr when its input type or rank has none (the caller then
/// evaluates the node on the host).
std::unique_ptr<Kernel> makeDeviceNonZero(const Node& node);

}  // namespace kiln::cuda
