#pragma once
#include "passes/pass.h"

namespace kiln {

/// Recognizes the GELU forms exporters write out and replaces each with one Gelu layer: the exact
/// x * 0.5 * (1 + erf(x / sqrt(2))), and the tanh form x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715
/// x^3))) (GPT-2's "gelu_new", torch's approximate="tanh" before opset 20) as Gelu approximate="tanh";
/// either association of the final products, x^3 as Pow or as products.
class GeluFusion : public Pass {
public:
    const char* name() const override { return "gelu-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
