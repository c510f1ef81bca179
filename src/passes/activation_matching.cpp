#include "passes/activation_matching.h"

#include <limits>

#include "passes/pattern_utils.h"

namespace kiln {

std::optional<FusableActivation> fusableActivation(const Node& node) {
    if (!node.domain.empty() || node.inputs.empty()) return std::nullopt;
    const std::string& op = node.opType;
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") return FusableActivation{op, {}};
    if (op == "Gelu" && node.attrs.getString("approximate", "none") == "none") return FusableActivation{op, {}};
    if (op == "LeakyRelu") return FusableActivation{op, {node.attrs.getFloat("alpha", 0.01f)}};
    if (op == "HardSigmoid")
        return FusableActivation{op, {node.attrs.getFloat("alpha", 0.2f), node.attrs.getFloat("beta", 0.5f)}};
    if (op == "Clip") {
        float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
        if (node.hasInput(1)) {
            auto c = scalarConstant(node.input(1));
            if (!c) return std::nullopt;
            lo = static_cast<float>(*c);
        }
        if (node.hasInput(2)) {
            auto c = scalarConstant(node.input(2));
            if (!c) return std::nullopt;
            hi = static_cast<float>(*c);
        }
        return FusableActivation{op, {lo, hi}};
    }
    return std::nullopt;
}

std::optional<FusableActivation> absorbActivation(const Uses& uses, Value** result, std::vector<const Node*>& chain) {
    if (!uses.onlyFeeds(*result)) return std::nullopt;
    Node* next = uses.readers(*result)[0];
    for (const Node* n : chain)
        if (n == next) return std::nullopt;
    auto activation = fusableActivation(*next);
    if (!activation || next->input(0) != *result) return std::nullopt;
    chain.push_back(next);
    *result = next->output(0);
    return activation;
}

std::string describeChain(const std::vector<const Node*>& chain) {
    std::string what;
    for (const Node* n : chain) what += (what.empty() ? "" : " + ") + n->name;
    return what;
}

void setActivation(Node& fused, const FusableActivation& activation) {
    fused.attrs.set("activation", activation.opType);
    if (!activation.params.empty()) fused.attrs.set("activation_params", activation.params);
}

}  // namespace kiln
