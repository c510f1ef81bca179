#include "backends/cuda/cuda_kernel_registry.h"

#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

const CudaKernelRegistry& CudaKernelRegistry::global() {
    static const CudaKernelRegistry* registry = [] {
        auto* r = new CudaKernelRegistry();
        registerAllCudaKernels(*r);
        return r;
    }();
    return *registry;
}

void registerAllCudaKernels(CudaKernelRegistry& registry) {
    // Each family is called here by name, so none can be dropped by the linker.
    registerElementwiseKernels(registry);
    registerElementwiseUnaryKernels(registry);
    registerElementwiseLogicKernels(registry);
    registerClipShrinkKernels(registry);
    registerRangeTriluKernels(registry);
    registerFillKernels(registry);
    registerCopyKernels(registry);
    registerActivationKernels(registry);
    registerActivationPointwiseKernels(registry);
    registerMatMulKernels(registry);
    registerExpandKernels(registry);
    registerConvKernels(registry);
    registerPoolingKernels(registry);
    registerChannelsLastPoolKernels(registry);
    registerShapeKernels(registry);
    registerLayoutKernels(registry);
    registerSelectCastKernels(registry);
    registerNormalizationKernels(registry);
    registerChannelNormalizationKernels(registry);
    registerConvTransposeKernels(registry);
    registerDeformConvKernels(registry);
    registerEinsumKernels(registry);
    registerDeterminantKernels(registry);
    registerReductionKernels(registry);
    registerSoftmaxKernels(registry);
    registerArgReduceKernels(registry);
    registerPadKernels(registry);
    registerScatterGatherKernels(registry);
    registerCumulativeKernels(registry);
    registerDropoutKernels(registry);
    registerLossKernels(registry);
    registerAttentionKernels(registry);
    registerRotaryEmbeddingKernels(registry);
    registerSwiGLUKernels(registry);
    registerTensorScatterKernels(registry);
    registerLinearAttentionKernels(registry);
    registerCausalConvWithStateKernels(registry);
    registerFusedPointwiseKernels(registry);
    registerResizeKernels(registry);
    registerGridSampleKernels(registry);
    registerSpatialLayoutKernels(registry);
    registerIndexingNdKernels(registry);
    registerImageGeometryKernels(registry);
    registerTopKKernels(registry);
    registerValueDependentKernels(registry);
    registerSignalKernels(registry);
    registerRecurrentKernels(registry);
    registerControlFlowKernels(registry);
    registerFlexAttentionKernels(registry);
    registerMlFeatureKernels(registry);
    registerQuantizeLinearKernels(registry);
    registerQuantizedIntegerKernels(registry);
}

bool inputsHaveType(const Node& node, size_t first, size_t count, const std::vector<DataType>& types,
                    std::string* reason) {
    const Value* lead = node.input(first);
    if (!lead) {
        if (reason) *reason = "input " + std::to_string(first) + " is missing";
        return false;
    }
    bool known = false;
    for (DataType t : types) known = known || lead->dtype == t;
    if (!known) {
        if (reason) {
            *reason =
                std::string("no CUDA kernel for ") + node.opType + " on " + dataTypeName(lead->dtype) + " (supported:";
            for (DataType t : types) *reason += std::string(" ") + dataTypeName(t);
            *reason += ")";
        }
        return false;
    }
    for (size_t i = first + 1; i < first + count; ++i) {
        const Value* v = node.input(i);
        if (v && v->dtype != lead->dtype) {
            if (reason)
                *reason = "input " + std::to_string(i) + " is " + dataTypeName(v->dtype) + " but input " +
                          std::to_string(first) + " is " + dataTypeName(lead->dtype);
            return false;
        }
    }
    return true;
}

bool ranksAtMost(const Node& node, size_t maxRank, std::string* reason) {
    auto check = [&](const Value* v, const char* role, size_t index) {
        if (!v || v->shape.size() <= maxRank) return true;
        if (reason)
            *reason = std::string(role) + " " + std::to_string(index) + " has rank " + std::to_string(v->shape.size()) +
                      "; the CUDA kernel handles rank <= " + std::to_string(maxRank);
        return false;
    };
    for (size_t i = 0; i < node.inputs.size(); ++i)
        if (!check(node.inputs[i], "input", i)) return false;
    for (size_t i = 0; i < node.outputs.size(); ++i)
        if (!check(node.outputs[i], "output", i)) return false;
    return true;
}

const char* tacticTypeSuffix(DataType type) {
    return dataTypeShortName(type);
}

}  // namespace kiln::cuda
