#pragma once
#include "passes/pass.h"

namespace kiln {

/// A residual Add behind a Reshape of a product, into the product's epilogue:
///   FusedMatMul / MatMul [R, N] -> Reshape [b, s, N] -> Add(residual [b, s, N])
/// becomes FusedMatMul(..., residual reshaped to [R, N]) -> Reshape [b, s, N]. A Reshape keeps the
/// element order, so the residual's elements meet the same products; the residual's Reshape is a view.
/// This is the form of torch's MultiheadAttention output projection once attention-batch-first-output has
/// made its transposes one Reshape (ViT's attention block), which matmul fusion, running before that pass,
/// cannot see: the Add's separate pass over the activations goes. Products with an activation keep their
/// Add (the residual would have to come before the activation).
class ResidualThroughReshape : public Pass {
public:
    const char* name() const override { return "residual-through-reshape"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
