#pragma once
#include "passes/pass.h"

namespace kiln {

/// Recognizes the erf form of GELU that exporters write out, x * 0.5 * (1 + erf(x / sqrt(2))) in
/// either association, and replaces it with one Gelu layer.
class GeluFusion : public Pass {
public:
    const char* name() const override { return "gelu-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
