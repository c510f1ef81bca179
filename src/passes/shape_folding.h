#pragma once
#include "passes/pass.h"

namespace kiln {

/// Folds every shape computation that the static input shapes determine (seed 001: Shape ->
/// Gather -> Concat -> Reshape / Expand chains): shape inference propagates values through them,
/// and each layer whose outputs all came out known becomes constants. With dynamic inputs the
/// parts that depend on a dynamic dimension stay, as host-side shape computations at run time; a
/// static extent read out of a partly dynamic shape is folded all the same (static_shape_elements.h).
/// Every value's inferred shape is written back, so a static model is static everywhere.
class ShapeFolding : public Pass {
public:
    const char* name() const override { return "shape-folding"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
