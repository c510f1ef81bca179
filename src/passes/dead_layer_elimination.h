#pragma once
#include "passes/pass.h"

namespace kiln {

/// Removes layers none of whose outputs reach a network output (seed 004: "eliminating layers
/// whose outputs are not used").
class DeadLayerElimination : public Pass {
public:
    const char* name() const override { return "dead-layer-elimination"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
