#pragma once
// What the IR, the importer and the kernels agree on about nodes with subgraphs (If, Loop, Scan,
// and FlexAttention's score_mod / prob_mod): how a node lists the outer values its subgraphs
// capture, how their inference types a subgraph, and how Scan's attributes lay out its inputs and
// outputs.

#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"
#include "ir/op_registry.h"

namespace kiln {

/// Int attribute of a node with subgraphs: how many of its trailing inputs are outer values that
/// its subgraphs capture. Each subgraph lists the same values as its own trailing inputs, in the
/// same order. Absent means none.
inline constexpr const char* kCapturedInputsAttr = "kiln_captured_inputs";

int64_t capturedInputCount(const Node& node);

/// The infos of the node's captured inputs (its trailing kCapturedInputsAttr inputs).
Expected<std::vector<ValueInfo>> capturedInputInfos(const InferenceContext& ctx);

/// Infers the subgraph of graph attribute `attr` with its inputs described by `inputs` (one per
/// subgraph input) and returns what it knows of the subgraph's outputs. The first inference also
/// writes the types into the subgraph's values that the model left untyped: kernels are created
/// from them.
Expected<std::vector<ValueInfo>> inferSubgraph(const InferenceContext& ctx, const std::string& attr,
                                               const std::vector<ValueInfo>& inputs);

/// Scan's partition of its inputs and outputs (opset 9 and newer).
struct ScanLayout {
    size_t states{0};                    // N loop-carried state values (inputs and outputs first)
    std::vector<int64_t> scanInputAxes;  // per scan input, normalized to [0, rank)
    std::vector<bool> scanInputReverse;
    std::vector<int64_t> scanOutputAxes;  // per scan output, as given (negative counts from the end)
    std::vector<bool> scanOutputReverse;
};

/// Reads num_scan_inputs and the axis / direction lists of a Scan node with `formalInputs` inputs
/// (captures excluded) and `numOutputs` outputs; `inputRank(i)` gives input i's rank.
Expected<ScanLayout> scanLayoutOf(const Node& node, size_t formalInputs, size_t numOutputs,
                                  const std::function<int64_t(size_t)>& inputRank);

}  // namespace kiln
