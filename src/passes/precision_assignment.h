#pragma once
// Weakly typed reduced precision (`--fp16`, `--bf16`): which layers run in FP16 (or BF16), and the
// reformat (Cast) layers where the precision changes. TensorRT's rule, in Kiln's terms:
// - a layer that computes FP32 values runs in the reduced type when the backend has a kernel for it at that type (asked with a
//   trial copy of the node whose FP32 tensors are retyped), the op's own type rule agrees (Cast's
//   `to` fixes its output type, so a Cast keeps its types), and it is not on the precision-sensitive
//   list (sums and products over whole axes, losses, index arithmetic such as Range); layers whose
//   outputs are of other types (Cast to int, comparisons, ArgMax) read FP32, so they do not round first;
// - a memory-bound layer whose every computed input would need a reformat from FP32 keeps FP32 (the
//   reformats would cost more than FP16 saves); GEMMs, convolutions and attention take FP16 regardless;
// - values computed from integers (positions, masks, shapes cast to float) keep FP32: their consumers
//   get a converted copy, so index arithmetic never rounds;
// - the engine's inputs and outputs keep the model's types: a reformat layer converts at each edge
//   where the precision changes, and graph outputs keep their names; Shape and Size read an FP16
//   value as it is (they read no element, and a dynamic batch leaves many of them in an export);
// - FP32 weights of reduced-precision layers are converted once, at build time (values beyond the
//   reduced type's range saturate to its largest finite value, with a warning that counts them).
// Which of FP16 and FP32 is faster is not timed yet (no tactic timing): a layer with a reduced-precision
// kernel gets it.

#include <functional>
#include <string>

#include "passes/pass.h"

namespace kiln {

/// Whether the target backend can run `node` as given (its tensors' types included); sets `reason` when not.
using BackendSupport = std::function<bool(const Node& node, std::string* reason)>;

class PrecisionAssignment : public Pass {
public:
    /// `reducedType` is DataType::kHALF or DataType::kBF16.
    PrecisionAssignment(DataType reducedType, BackendSupport supports)
        : mReduced(reducedType), mSupports(std::move(supports)) {}

    const char* name() const override { return "precision assignment"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;

private:
    DataType mReduced;
    BackendSupport mSupports;
};

/// Op types that keep FP32 under --fp16 / --bf16 whatever the backend offers.
bool isPrecisionSensitive(const Node& node);

}  // namespace kiln
