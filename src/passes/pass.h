#pragma once
// A graph optimization pass: one rewrite, one file, one test file. Passes report each change so
// `--verbose` shows what the builder did ("fused Conv_12 + Relu_13").

#include <string>
#include <vector>

#include "common/logging.h"
#include "common/status.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"

namespace kiln {

struct PassContext {
    Logger log;
    /// Runs nodes on the host (constant folding); the CPU backend's kernels.
    const NodeEvaluator* evaluator{nullptr};
    /// Changes the running pass made, one line each (the manager logs and clears them).
    std::vector<std::string> changes;

    void record(std::string change) { changes.push_back(std::move(change)); }
};

class Pass {
public:
    virtual ~Pass() = default;
    virtual const char* name() const = 0;
    /// Rewrites `graph`; returns whether anything changed. Shapes and dtypes of the values the pass
    /// creates must be set (typeKnown), so later passes can rely on them.
    virtual Expected<bool> run(Graph& graph, PassContext& ctx) = 0;
};

}  // namespace kiln
