#include "ir/op_registry.h"

#include "ir/ops/op_families.h"

namespace kiln {

OpRegistry& OpRegistry::global() {
    static OpRegistry* registry = [] {
        auto* r = new OpRegistry();
        registerAllOps(*r);
        return r;
    }();
    return *registry;
}

void OpRegistry::add(OpSchema schema) {
    auto key = std::make_pair(schema.domain, schema.opType);
    mSchemas[key] = std::move(schema);
}

void OpRegistry::addDomain(OpSchema schema) {
    std::string domain = schema.domain;
    mDomainSchemas[domain] = std::move(schema);
}

const OpSchema* OpRegistry::find(const std::string& domain, const std::string& opType) const {
    const std::string& key = domain == "ai.onnx" ? std::string() : domain;
    if (auto it = mSchemas.find({key, opType}); it != mSchemas.end()) return &it->second;
    auto domainWide = mDomainSchemas.find(key);
    return domainWide == mDomainSchemas.end() ? nullptr : &domainWide->second;
}

std::vector<const OpSchema*> OpRegistry::all() const {
    std::vector<const OpSchema*> out;
    for (const auto& [key, schema] : mSchemas) out.push_back(&schema);
    return out;
}

void registerAllOps(OpRegistry& registry) {
    // Static linking cannot drop a family: each is called here by name.
    registerElementwiseOps(registry);
    registerActivationOps(registry);
    registerMatMulOps(registry);
    registerConvOps(registry);
    registerPoolingOps(registry);
    registerNormalizationOps(registry);
    registerReductionOps(registry);
    registerShapeOps(registry);
    registerTensorOps(registry);
    registerAttentionOps(registry);
    registerRotaryEmbeddingOps(registry);
    registerRecurrentOps(registry);
    registerControlFlowOps(registry);
    registerSequenceOps(registry);
    registerFusedOps(registry);
    registerSelectionOps(registry);
    registerQuantizationOps(registry);
    registerEinsumOps(registry);
    registerResizeOps(registry);
    registerImageOps(registry);
    registerSignalOps(registry);
    registerRandomOps(registry);
    registerLossOps(registry);
    registerSwiGLUOps(registry);
    registerTensorScatterOps(registry);
    registerCausalConvWithStateOps(registry);
    registerLinearAttentionOps(registry);
    registerFlexAttentionOps(registry);
    registerMlOps(registry);
    registerStringOps(registry);
    registerPluginOps(registry);
}

}  // namespace kiln
