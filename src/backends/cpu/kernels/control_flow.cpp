// CPU If, Loop and Scan: the backend-neutral kernels of backends/control_flow_kernels.h, running
// their subgraphs with the CPU backend's kernels.

#include "backends/control_flow_kernels.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

void registerControlFlowKernels(CpuKernelRegistry& registry) {
    auto cpuSupports = [](const Node& node, std::string* reason) { return cpuBackend().supports(node, reason); };
    registry.add({"If", supportsSubgraphs({"then_branch", "else_branch"}, cpuSupports),
                  [](const Node& node) { return createIfKernel(cpuBackend(), node); }, ""});
    registry.add({"Loop", supportsSubgraphs({"body"}, cpuSupports),
                  [](const Node& node) { return createLoopKernel(cpuBackend(), node); }, ""});
    registry.add({"Scan", supportsSubgraphs({"body"}, cpuSupports),
                  [](const Node& node) { return createScanKernel(cpuBackend(), node); }, ""});
}

}  // namespace kiln
