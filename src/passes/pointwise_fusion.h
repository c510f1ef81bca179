#pragma once
#include "passes/pass.h"

namespace kiln {

/// Pointwise-chain fusion: a connected group of float elementwise layers (arithmetic and
/// activations, see pointwise_program.h) whose inner results feed only each other becomes one
/// kiln::FusedPointwise layer that reads its inputs once and writes one result. Groups grow from
/// each unfused layer backwards through producers whose every reader is already in the group, so
/// the group has exactly one result and nothing outside reads its inner values.
class PointwiseFusion : public Pass {
public:
    const char* name() const override { return "pointwise-fusion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
