#pragma once
#include "passes/pass.h"

namespace kiln {

/// Recognizes RMSNorm written out (LLaMA's, T5's: x * rsqrt(mean(x^2) + eps) * gamma) as Pow(2) or x * x ->
/// ReduceMean over trailing axes -> Add(eps) -> Sqrt, then x divided by it or multiplied by its Reciprocal
/// (or by 1 / it), then optionally Mul(gamma), and replaces it with one RMSNormalization layer (opset 23's
/// op, which both backends run whatever the model's opset).
class RmsNormFusion : public Pass {
public:
    const char* name() const override { return "rmsnorm-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
