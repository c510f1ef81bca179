#pragma once
#include "passes/pass.h"

namespace kiln {

/// Folds an inference BatchNormalization into the Conv before it: with s = gamma / sqrt(var + eps),
/// W'[o] = W[o] * s[o] and b'[o] = (b[o] - mean[o]) * s[o] + beta[o]. Needs constant weights and
/// BN parameters and a Conv output read by the BatchNormalization alone.
class BatchNormFolding : public Pass {
public:
    const char* name() const override { return "batchnorm-folding"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
