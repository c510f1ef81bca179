#include "backends/cpu/kernel_registry.h"

#include <algorithm>

#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

const CpuKernelRegistry& CpuKernelRegistry::global() {
    static const CpuKernelRegistry* registry = [] {
        auto* r = new CpuKernelRegistry();
        registerAllCpuKernels(*r);
        return r;
    }();
    return *registry;
}

void registerAllCpuKernels(CpuKernelRegistry& registry) {
    // Static linking cannot drop a family: each is called here by name.
    registerElementwiseKernels(registry);
    registerActivationKernels(registry);
    registerMatMulKernels(registry);
    registerConvKernels(registry);
    registerPoolingKernels(registry);
    registerNormalizationKernels(registry);
    registerReductionKernels(registry);
    registerShapeKernels(registry);
    registerTensorKernels(registry);
    registerAttentionKernels(registry);
    registerRotaryEmbeddingKernels(registry);
    registerRecurrentKernels(registry);
    registerControlFlowKernels(registry);
    registerSequenceKernels(registry);
    registerFusedKernels(registry);
    registerFusedPointwiseKernels(registry);
    registerSelectionKernels(registry);
    registerQuantizationKernels(registry);
    registerEinsumKernels(registry);
    registerResizeKernels(registry);
    registerImageKernels(registry);
    registerSignalKernels(registry);
    registerRandomKernels(registry);
    registerLossKernels(registry);
    registerSwiGLUKernels(registry);
    registerTensorScatterKernels(registry);
    registerCausalConvWithStateKernels(registry);
    registerLinearAttentionKernels(registry);
    registerFlexAttentionKernels(registry);
    registerMlKernels(registry);
    // Last: it extends entries registered above (Cast, Equal, the data-movement ops) to strings.
    registerStringKernels(registry);
}

bool cpuEntryHandlesStrings(const CpuKernelEntry& entry, const Node& node, std::string* reason) {
    if (entry.strings) return true;
    auto isString = [](const Value* v) { return v && v->dtype == DataType::kSTRING; };
    bool hasString = std::any_of(node.inputs.begin(), node.inputs.end(), isString) ||
                     std::any_of(node.outputs.begin(), node.outputs.end(), isString);
    if (hasString && reason) *reason = "the CPU kernel of " + node.opType + " does not handle string tensors";
    return !hasString;
}

bool cpuEntrySupports(const CpuKernelEntry& entry, const Node& node, std::string* reason) {
    return lowBitTypesSupported(entry, node, reason) && cpuEntryHandlesStrings(entry, node, reason) &&
           (!entry.supports || entry.supports(node, reason));
}

bool lowBitTypesSupported(const CpuKernelEntry& entry, const Node& node, std::string* reason) {
    if (entry.lowBitTypes) return true;
    auto refuses = [&](const Value* v) {
        if (!v || !isLowBitType(v->dtype)) return false;
        if (reason) *reason = std::string("no CPU kernel for element type ") + dataTypeName(v->dtype);
        return true;
    };
    for (const Value* v : node.inputs)
        if (refuses(v)) return false;
    for (const Value* v : node.outputs)
        if (refuses(v)) return false;
    return true;
}

bool inputTypeIsOneOf(const Node& node, size_t index, std::initializer_list<DataType> types, std::string* reason) {
    const Value* v = node.input(index);
    if (!v) {
        if (reason) *reason = "input " + std::to_string(index) + " is missing";
        return false;
    }
    for (DataType t : types)
        if (v->dtype == t) return true;
    if (reason) *reason = std::string("no CPU kernel for input type ") + dataTypeName(v->dtype);
    return false;
}

}  // namespace kiln
