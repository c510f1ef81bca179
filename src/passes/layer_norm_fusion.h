#pragma once
#include "passes/pass.h"

namespace kiln {

/// Recognizes LayerNorm written out as ReduceMean -> Sub -> Pow(2) -> ReduceMean -> Add(eps) ->
/// Sqrt -> Div (-> Mul(gamma) -> Add(beta)) over trailing axes, and replaces it with one
/// LayerNormalization layer.
class LayerNormFusion : public Pass {
public:
    const char* name() const override { return "layernorm-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
