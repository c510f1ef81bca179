#pragma once
// Numpy broadcasting as a kernel sees it: for each output element, where each input's element lies.
// The plan is computed on the host at reshape and passed by value to the kernels, which decompose
// the output index over the plan's dims (device side: broadcast_index.cuh).

#include <cstddef>
#include <cstdint>
#include <string>
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

// The two steps of a broadcast plan, shared with the generated pointwise kernels' plan (more inputs:
// pointwise_codegen.h), on arrays of any capacity; the caller checks that inputs and dims fit.

/// `output`'s extents into `dims` and each of `inputs`' element strides per dim into `strides` (dims
/// innermost first; stride 0 where the input is broadcast); invalidArgument naming the input that
/// outranks `output` or does not broadcast to it (inputs are right-aligned).
template <size_t kInputs, size_t kRank>
Status broadcastStrides(const std::vector<Shape>& inputs, const Shape& output, int64_t (&dims)[kRank],
                        int64_t (&strides)[kInputs][kRank]) {
    const size_t rank = output.size();
    for (size_t d = 0; d < rank; ++d) dims[d] = output[rank - 1 - d];
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Shape& in = inputs[i];
        if (in.size() > rank)
            return invalidArgument("input " + std::to_string(i) + " of shape " + shapeToString(in, true) +
                                   " has a higher rank than the output " + shapeToString(output, true));
        int64_t stride = 1;
        for (size_t d = 0; d < rank; ++d) {
            const int64_t extent = d < in.size() ? in[in.size() - 1 - d] : 1;
            if (extent != 1 && extent != dims[d])
                return invalidArgument("input " + std::to_string(i) + " of shape " + shapeToString(in, true) +
                                       " does not broadcast to " + shapeToString(output, true));
            strides[i][d] = extent == 1 ? 0 : stride;
            stride *= extent;
        }
    }
    return Status::ok();
}

/// Drops the size-1 dims of the first `rank` and merges each dim with the next where every input walks
/// both as one (its outer stride continues the inner run: stride == inner stride * inner extent, 0 == 0
/// for broadcast runs); the merged dim keeps the inner one's strides. Returns the new rank (0 when every
/// dim was 1) and zeroes the entries past it.
template <size_t kInputs, size_t kRank>
int coalesceBroadcastDims(int rank, size_t numInputs, int64_t (&dims)[kRank], int64_t (&strides)[kInputs][kRank]) {
    int merged = 0;
    for (int d = 0; d < rank; ++d) {
        if (dims[d] == 1) continue;
        bool joins = merged > 0;
        for (size_t i = 0; i < numInputs && joins; ++i)
            joins = strides[i][d] == strides[i][merged - 1] * dims[merged - 1];
        if (joins) {
            dims[merged - 1] *= dims[d];
            continue;
        }
        dims[merged] = dims[d];
        for (size_t i = 0; i < numInputs; ++i) strides[i][merged] = strides[i][d];
        ++merged;
    }
    for (int d = merged; d < rank; ++d) {
        dims[d] = 0;
        for (size_t i = 0; i < numInputs; ++i) strides[i][d] = 0;
    }
    return merged;
}

}  // namespace kiln::cuda
