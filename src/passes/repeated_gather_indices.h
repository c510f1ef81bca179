#pragma once
#include "passes/pass.h"

namespace kiln {

/// A Gather of constant rows by constant indices that repeat along some axes (BERT's token types, all
/// 0, or position ids expanded over the batch), read by one Add whose other operand has the Add's whole
/// shape: the rows are gathered once at build time, indices [1, s] instead of [b, s], and the Add
/// broadcasts the small constant. Constant folding leaves such a Gather to run when its output is large
/// (at batch 128, 25 MB of one row repeated), and the Add then reads it all again.
class RepeatedGatherIndices : public Pass {
public:
    const char* name() const override { return "repeated-gather-indices"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
