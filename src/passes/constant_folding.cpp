#include "passes/constant_folding.h"

#include <unordered_set>

#include "ir/op_registry.h"

namespace kiln {

namespace {
constexpr size_t kMaxBloatBytes = size_t(16) << 20;
}

void replaceNodeByConstants(Graph& graph, Node& node, std::vector<Tensor> values) {
    for (size_t i = 0; i < node.outputs.size() && i < values.size(); ++i) {
        Value* out = node.outputs[i];
        if (!out) continue;
        out->dtype = values[i].dtype();
        out->shape = fromConcrete(values[i].shape());
        out->typeKnown = true;
        out->constant = std::move(values[i]);
        out->producer = nullptr;
        out->producerOutput = -1;
    }
    node.outputs.clear();
}

Expected<bool> ConstantFolding::run(Graph& graph, PassContext& ctx) {
    if (!ctx.evaluator) return false;
    std::unordered_set<const Node*> folded;
    for (const auto& node : graph.nodes()) {
        const OpSchema* schema = OpRegistry::global().find(node->domain, node->opType);
        if (!schema || !schema->foldable || node->inputs.empty()) continue;
        bool allConstant = true;
        size_t inputBytes = 0;
        std::vector<const Tensor*> inputs;
        for (const Value* in : node->inputs) {
            if (in && !in->isConstant()) allConstant = false;
            if (in && in->isConstant()) inputBytes += in->constant->byteSize();
            inputs.push_back(in && in->isConstant() ? &*in->constant : nullptr);
        }
        if (!allConstant) continue;
        std::vector<ValueInfo> outInfos;
        bool shapesKnown = true;
        size_t outputBytes = 0;
        for (const Value* out : node->outputs) {
            ValueInfo info = out ? recordedInfo(*out) : ValueInfo{};
            if (out) {
                const std::optional<size_t> bytes = knownByteSize(info);
                shapesKnown = shapesKnown && bytes.has_value();
                outputBytes += bytes.value_or(0);
            }
            outInfos.push_back(std::move(info));
        }
        if (!shapesKnown || (outputBytes > kMaxBloatBytes && outputBytes > 2 * inputBytes)) continue;
        auto values = ctx.evaluator->evaluate(*node, inputs, outInfos);
        if (!values) continue;  // not foldable here (no CPU kernel, ...): it runs at execution time
        ctx.record("folded " + node->describe() + " into constants");
        replaceNodeByConstants(graph, *node, std::move(values).value());
        folded.insert(node.get());
    }
    if (folded.empty()) return false;
    graph.removeNodes([&](const Node& n) { return folded.count(&n) != 0; });
    graph.removeUnusedValues();
    return true;
}

}  // namespace kiln
