#pragma once
#include "passes/pass.h"

namespace kiln {

/// Removes layers that return their input unchanged: Identity, inference-time Dropout, a Cast to
/// the same type, and Reshape/Flatten/Squeeze/Unsqueeze/Expand whose static output shape equals
/// the input's. Network outputs keep their names, so a no-op producing one stays.
class IdentityElimination : public Pass {
public:
    const char* name() const override { return "identity-elimination"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
