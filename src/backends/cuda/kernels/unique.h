#pragma once
// Unique's device kernel (unique.cu), for the element types and attributes it handles.

#include <memory>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln::cuda {

/// The device kernel for `node`, or nullptr when its type or `axis` has none (the caller then
/// evaluates the node on the host).
std::unique_ptr<Kernel> makeDeviceUnique(const Node& node);

}  // namespace kiln::cuda
