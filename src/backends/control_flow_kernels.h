#pragma once
// If, Loop and Scan for every backend: each runs its subgraph(s) with a SubgraphExecutor on the
// backend that created it, in that backend's memory and on the run's stream. The loop itself is
// driven from the host: If's condition and Loop's trip count and condition are copied back to the
// host (a stream synchronization on a device), loop-carried values and scan slices are moved with
// the backend's copies. Such kernels cannot be recorded by a stream capture (Kernel::isCapturable).
//
// Captured outer values are the node's trailing inputs and bind by position to the subgraph's
// trailing inputs (ir/control_flow.h). When inference cannot know an output's shape (If branches
// that disagree, a Loop whose trip count depends on data), the runtime asks the kernel for it
// (computeOutputShapes): the kernel runs the subgraph then and keeps the results for the run() that
// follows.

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/subgraph_executor.h"

namespace kiln {

/// A support check for a node with subgraphs: true when every node of each graph attribute in
/// `attrs` passes `nodeSupported` (the backend's own check).
std::function<bool(const Node&, std::string*)> supportsSubgraphs(std::vector<std::string> attrs,
                                                                 SubgraphExecutor::NodeSupport nodeSupported);

Expected<std::unique_ptr<Kernel>> createIfKernel(Backend& backend, const Node& node);
Expected<std::unique_ptr<Kernel>> createLoopKernel(Backend& backend, const Node& node);
Expected<std::unique_ptr<Kernel>> createScanKernel(Backend& backend, const Node& node);

}  // namespace kiln
