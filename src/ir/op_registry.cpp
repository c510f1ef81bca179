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

const OpSchema* OpRegistry::find(const std::string& domain, const std::string& opType) const {
    auto it = mSchemas.find({domain == "ai.onnx" ? "" : domain, opType});
    return it == mSchemas.end() ? nullptr : &it->second;
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
}

}  // namespace kiln
