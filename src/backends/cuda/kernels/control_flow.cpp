// CUDA If, Loop and Scan: the backend-neutral kernels of backends/control_flow_kernels.h, whose
// subgraphs run with the CUDA backend's kernels in device memory on the run's stream. The host
// drives the loop (each condition and trip count is read back with a stream synchronization), so
// these layers are not capturable into a CUDA graph.

#include "backends/control_flow_kernels.h"
#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

using CreateFn = Expected<std::unique_ptr<Kernel>> (*)(Backend&, const Node&);

std::function<Expected<std::unique_ptr<Kernel>>(const Node&, const CudaContext&)> creator(CreateFn create) {
    return [create](const Node& node, const CudaContext& context) -> Expected<std::unique_ptr<Kernel>> {
        if (!context.backend) return internalError(node.describe() + ": the CUDA kernel context names no backend");
        return create(*context.backend, node);
    };
}

}  // namespace

void registerControlFlowKernels(CudaKernelRegistry& registry) {
    registry.add({"If", supportsSubgraphs({"then_branch", "else_branch"}, cudaSupportsNode), creator(createIfKernel)});
    registry.add({"Loop", supportsSubgraphs({"body"}, cudaSupportsNode), creator(createLoopKernel)});
    registry.add({"Scan", supportsSubgraphs({"body"}, cudaSupportsNode), creator(createScanKernel)});
}

}  // namespace kiln::cuda
