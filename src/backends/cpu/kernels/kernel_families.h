#pragma once
// One registration function per CPU kernel family (src/backends/cpu/kernels/<family>.cpp).

namespace kiln {

class CpuKernelRegistry;

void registerElementwiseKernels(CpuKernelRegistry& registry);
void registerActivationKernels(CpuKernelRegistry& registry);
void registerMatMulKernels(CpuKernelRegistry& registry);
void registerConvKernels(CpuKernelRegistry& registry);
void registerPoolingKernels(CpuKernelRegistry& registry);
void registerNormalizationKernels(CpuKernelRegistry& registry);
void registerReductionKernels(CpuKernelRegistry& registry);
void registerShapeKernels(CpuKernelRegistry& registry);
void registerTensorKernels(CpuKernelRegistry& registry);
void registerAttentionKernels(CpuKernelRegistry& registry);
void registerRecurrentKernels(CpuKernelRegistry& registry);
void registerControlFlowKernels(CpuKernelRegistry& registry);
void registerFusedKernels(CpuKernelRegistry& registry);

}  // namespace kiln
