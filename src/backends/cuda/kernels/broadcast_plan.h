#pragma once
// Numpy broadcasting as a kernel sees it: for each output element, where each input's element lies.
// The plan is computed on the host at reshape and passed by value to the kernels, which decompose
// the output index over the plan's dims (device side: broadcast_index.cuh).

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "ir/tensor.h"

namespace kiln::cuda {

constexpr int kMaxBroadcastRank = 8;
constexpr int kMaxBroadcastInputs = 3;  // Where: condition, X, Y

/// The output's dims with 1-sized dims dropped and adjacent dims merged wherever every input walks
/// them alike (contiguously, or broadcast), and each input's element stride per dim (0 where the input
/// is broadcast). dims[0] is the innermost. Same-shape inputs collapse to rank 1 with stride 1; a
/// scalar input has stride 0 everywhere.
struct BroadcastPlan {
    int rank{1};
    int numInputs{0};
    int64_t dims[kMaxBroadcastRank]{};
    int64_t strides[kMaxBroadcastInputs][kMaxBroadcastRank]{};
    int64_t count{0};  // output elements

    /// Whether 32-bit index arithmetic covers every output index and input offset.
    bool fitsInt32() const { return count < (int64_t{1} << 31); }
};

/// Fails with invalidArgument when an input does not broadcast to `output` (inputs are right-aligned),
/// or when there are more inputs or dims than the plan holds.
Expected<BroadcastPlan> planBroadcast(const std::vector<Shape>& inputs, const Shape& output);

}  // namespace kiln::cuda
