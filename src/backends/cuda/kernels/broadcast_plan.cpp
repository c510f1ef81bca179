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
    KILN_RETURN_IF_ERROR(broadcastStrides(inputs, output, plan.dims, plan.strides));
    plan.rank = coalesceBroadcastDims(rank, inputs.size(), plan.dims, plan.strides);
    // A kernel walks the dims innermost first; a scalar output keeps one dim of extent 1.
    if (plan.rank == 0) {
        plan.dims[0] = 1;
        plan.rank = 1;
    }
    return plan;
}

}  // namespace kiln::cuda
