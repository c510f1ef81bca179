#pragma once
#include "passes/pass.h"

namespace kiln {

/// Computes layers whose inputs are all constants, with the CPU backend's kernels (one evaluator
/// for folding and execution), and replaces their outputs with constants. Skips folds that would
/// bloat the engine: an output over 16 MiB that is more than twice its inputs' bytes (an Expand
/// or Tile of a small constant is cheaper to run than to store).
class ConstantFolding : public Pass {
public:
    const char* name() const override { return "constant-folding"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

/// Turns `node`'s outputs into the constants `values` and removes the node. Shared by the
/// folding passes.
void replaceNodeByConstants(Graph& graph, Node& node, std::vector<Tensor> values);

}  // namespace kiln
