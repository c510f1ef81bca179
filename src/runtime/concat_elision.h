#pragma once
// Concat elision: when each input of a Concat is a contiguous slice of its output (every dim
// before the axis is 1) and nothing but the Concat reads it, the input's producer writes straight
// into its slice of the output buffer and the Concat does not run (seed 004: "write concat inputs
// straight into the destination"). The memory planner then gives the output one buffer whose
// lifetime starts at the first slice's write, and places each slice inside it.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"

namespace kiln {

enum class Residence : uint8_t;

struct ConcatElision {
    std::vector<int64_t> parent;      // by value id: the Concat output it lives in, or -1
    std::vector<size_t> byteOffset;   // by value id: where, in the parent's buffer
    std::vector<size_t> elidedNodes;  // indices into graph.nodes() of the Concats that do not run

    bool isSlice(size_t valueId) const { return parent[valueId] >= 0; }
};

/// Finds the Concats to elide among arena-resident values (`residence` by value id). Slices start
/// at multiples of `alignment`, so kernels see the alignment they always get.
ConcatElision planConcatElision(const Graph& graph, const std::vector<ValueInfo>& infos,
                                const std::vector<Residence>& residence, size_t alignment);

}  // namespace kiln
