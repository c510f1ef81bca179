#include "backends/cuda/kernels/broadcast_plan.h"

#include <string>

namespace kiln::cuda {

Expected<BroadcastPlan> planBroadcast(const std::vector<Shape>& inputs, const Shape& output) {
    BroadcastPlan plan;
    const int numInputs = static_cast<int>(inputs.size());
    const int rank = static_cast<int>(output.size());
    if (numInputs > kMaxBroadcastInputs) return internalError("planBroadcast: too many inputs");
    if (rank > kMaxBroadcastRank)
        return unsupported("rank " + std::to_string(rank) + " exceeds the broadcast kernels' " +
                           std::to_string(kMaxBroadcastRank));
    plan.numInputs = numInputs;
    plan.count = shapeElementCount(output);

    // Per output dim (innermost first), each input's contiguous element stride; 0 where it broadcasts.
    std::vector<std::vector<int64_t>> strides(static_cast<size_t>(numInputs), std::vector<int64_t>(rank, 0));
    for (int i = 0; i < numInputs; ++i) {
        const Shape& in = inputs[static_cast<size_t>(i)];
        const int offset = rank - static_cast<int>(in.size());
        if (offset < 0)
            return invalidArgument("input " + std::to_string(i) + " of shape " + shapeToString(in, true) +
                                   " has a higher rank than the output " + shapeToString(output, true));
        int64_t stride = 1;
        for (int d = rank - 1; d >= 0; --d) {
            int64_t extent = d >= offset ? in[static_cast<size_t>(d - offset)] : 1;
            if (extent != 1 && extent != output[static_cast<size_t>(d)])
                return invalidArgument("input " + std::to_string(i) + " of shape " + shapeToString(in, true) +
                                       " does not broadcast to " + shapeToString(output, true));
            strides[static_cast<size_t>(i)][static_cast<size_t>(d)] = extent == 1 ? 0 : stride;
            stride *= extent;
        }
    }

    // Merge from the innermost dim out. An outer dim joins the current group when, for every input, its
    // stride continues the group's (stride == groupStride * groupExtent; 0 == 0 for broadcast runs).
    int merged = 0;
    for (int d = rank - 1; d >= 0; --d) {
        int64_t extent = output[static_cast<size_t>(d)];
        if (extent == 1) continue;
        bool joins = merged > 0;
        for (int i = 0; i < numInputs && joins; ++i) {
            int g = merged - 1;
            joins = strides[static_cast<size_t>(i)][static_cast<size_t>(d)] == plan.strides[i][g] * plan.dims[g];
        }
        if (joins) {
            plan.dims[merged - 1] *= extent;
            continue;
        }
        plan.dims[merged] = extent;
        for (int i = 0; i < numInputs; ++i)
            plan.strides[i][merged] = strides[static_cast<size_t>(i)][static_cast<size_t>(d)];
        ++merged;
    }
    // Dims are stored innermost first; a kernel walks them in that order. A scalar output keeps one dim.
    if (merged == 0) {
        plan.dims[0] = 1;
        for (int i = 0; i < numInputs; ++i) plan.strides[i][0] = 0;
        merged = 1;
    }
    plan.rank = merged;
    return plan;
}

}  // namespace kiln::cuda
