#pragma once
// Einsum equations ("ij,jk->ik", "...ii->...i", "bij,bjk"): parsed once for shape inference and
// the CPU kernel. Every axis of every operand gets a label; the axes an ellipsis stands for get
// labels of their own, right-aligned across operands as numpy broadcasts them.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln {

struct EinsumEquation {
    /// Labels of each operand's axes, and of the output's axes (indices into the label space).
    std::vector<std::vector<int32_t>> inputs;
    std::vector<int32_t> output;
    /// How many labels there are; labels [0, ellipsisRank) are the ellipsis axes.
    int32_t labelCount{0};
    int32_t ellipsisRank{0};
};

/// Parses `equation` for operands of `ranks`. Without "->" the output is the ellipsis axes, then
/// the letters that occur once, in alphabetical order (numpy's implicit mode).
Expected<EinsumEquation> parseEinsumEquation(const std::string& equation, const std::vector<int64_t>& ranks);

}  // namespace kiln
