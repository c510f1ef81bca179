#pragma once
// What the IR, the importer and the kernels agree on about control-flow nodes (If, Loop, Scan):
// how a node lists the outer values its subgraphs capture, and how Scan's attributes lay out its
// inputs and outputs.

#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"

namespace kiln {

/// Int attribute of a node with subgraphs: how many of its trailing inputs are outer values that
/// its subgraphs capture. Each subgraph lists the same values as its own trailing inputs, in the
/// same order. Absent means none.
inline constexpr const char* kCapturedInputsAttr = "kiln_captured_inputs";

int64_t capturedInputCount(const Node& node);

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
