#pragma once
// SequenceMap: runs its `body` subgraph once per element of its input sequence(s) with a
// SubgraphExecutor (backends/subgraph_executor.h), as Loop does, and gathers each body output into
// an output sequence. The elements live in host memory (backends/host_value.h), so it lives with the
// CPU kernels and only a host-memory backend creates it.

#include <memory>

#include "backends/backend.h"

namespace kiln {

Expected<std::unique_ptr<Kernel>> createSequenceMapKernel(Backend& backend, const Node& node);

}  // namespace kiln
