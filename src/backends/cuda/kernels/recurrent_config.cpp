#include "backends/cuda/kernels/recurrent_config.h"

#include <string>
#include <vector>

#include "backends/cpu/kernels/recurrent_activation.h"

namespace kiln::cuda {

namespace {

GateFn toGateFn(cpu::GateFunction f) {
    switch (f) {
        case cpu::GateFunction::kRelu: return GateFn::kRelu;
        case cpu::GateFunction::kTanh: return GateFn::kTanh;
        case cpu::GateFunction::kSigmoid: return GateFn::kSigmoid;
        case cpu::GateFunction::kAffine: return GateFn::kAffine;
        case cpu::GateFunction::kLeakyRelu: return GateFn::kLeakyRelu;
        case cpu::GateFunction::kThresholdedRelu: return GateFn::kThresholdedRelu;
        case cpu::GateFunction::kScaledTanh: return GateFn::kScaledTanh;
        case cpu::GateFunction::kHardSigmoid: return GateFn::kHardSigmoid;
        case cpu::GateFunction::kElu: return GateFn::kElu;
        case cpu::GateFunction::kSoftsign: return GateFn::kSoftsign;
        case cpu::GateFunction::kSoftplus: return GateFn::kSoftplus;
    }
    return GateFn::kTanh;
}

}  // namespace

Expected<RecurrentConfig> recurrentConfigOf(const Node& node, RecurrentCell cell) {
    RecurrentConfig config;
    config.cell = cell;
    std::vector<std::string> defaults;
    switch (cell) {
        case RecurrentCell::kRnn:
            config.gates = 1;
            defaults = {"Tanh"};
            break;
        case RecurrentCell::kGru:
            config.gates = 3;
            defaults = {"Sigmoid", "Tanh"};
            break;
        case RecurrentCell::kLstm:
            config.gates = 4;
            defaults = {"Sigmoid", "Tanh", "Tanh"};
            break;
    }
    const AttributeMap& attrs = node.attrs;
    const std::string direction = attrs.getString("direction", "forward");
    if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
        return invalidModel(node.describe() + ": unknown direction '" + direction + "'");
    config.bidirectional = direction == "bidirectional";
    config.reverse = direction == "reverse";
    config.layout = attrs.getInt("layout", 0);
    if (config.layout != 0 && config.layout != 1)
        return invalidModel(node.describe() + ": layout must be 0 or 1, not " + std::to_string(config.layout));
    if (auto clip = attrs.getFloat("clip")) {
        config.hasClip = true;
        config.clip = *clip;
    }
    config.linearBeforeReset = attrs.getInt("linear_before_reset", 0) != 0;
    config.inputForget = attrs.getInt("input_forget", 0) != 0;
    auto activations =
        cpu::parseGateActivations(attrs.getStrings("activations"), defaults, static_cast<size_t>(config.directions()),
                                  attrs.getFloats("activation_alpha").value_or(std::vector<float>{}),
                                  attrs.getFloats("activation_beta").value_or(std::vector<float>{}));
    if (!activations) return Status(activations.status().code(), node.describe() + ": " + activations.status().message());
    for (int d = 0; d < config.directions(); ++d)
        for (size_t f = 0; f < defaults.size(); ++f) {
            const cpu::GateActivation& a = (*activations)[static_cast<size_t>(d) * defaults.size() + f];
            config.activations[d][f] = {toGateFn(a.function), static_cast<float>(a.alpha), static_cast<float>(a.beta)};
        }
    return config;
}

}  // namespace kiln::cuda
