// The elementwise kernel family. Each file registers the kernels it defines; this is the family's
// explicit list of those files.

#include "backends/cpu/kernels/elementwise_kernels.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

void registerElementwiseKernels(CpuKernelRegistry& registry) {
    cpu::registerElementwiseArithmeticKernels(registry);
    cpu::registerElementwiseLogicKernels(registry);
    cpu::registerElementwiseUnaryKernels(registry);
    cpu::registerElementwiseCastKernels(registry);
}

}  // namespace kiln
