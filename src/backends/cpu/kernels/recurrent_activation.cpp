#include "backends/cpu/kernels/recurrent_activation.h"

#include <algorithm>
#include <cctype>

namespace kiln::cpu {

namespace {

struct FunctionSpec {
    const char* name;  // lower case; the attribute's spelling is matched case-insensitively
    GateFunction function;
    bool takesAlpha;
    bool takesBeta;
    double defaultAlpha;
    double defaultBeta;
};

// Defaults of the parameters a model leaves out: those of the standalone ONNX operators of the
// same name (LeakyRelu 0.01, HardSigmoid 0.2 / 0.5, Elu 1), the identity for Affine and ScaledTanh.
constexpr FunctionSpec kFunctions[] = {
    {"relu", GateFunction::kRelu, false, false, 0.0, 0.0},
    {"tanh", GateFunction::kTanh, false, false, 0.0, 0.0},
    {"sigmoid", GateFunction::kSigmoid, false, false, 0.0, 0.0},
    {"affine", GateFunction::kAffine, true, true, 1.0, 0.0},
    {"leakyrelu", GateFunction::kLeakyRelu, true, false, 0.01, 0.0},
    {"thresholdedrelu", GateFunction::kThresholdedRelu, true, false, 1.0, 0.0},
    {"scaledtanh", GateFunction::kScaledTanh, true, true, 1.0, 1.0},
    {"hardsigmoid", GateFunction::kHardSigmoid, true, true, 0.2, 0.5},
    {"elu", GateFunction::kElu, true, false, 1.0, 0.0},
    {"softsign", GateFunction::kSoftsign, false, false, 0.0, 0.0},
    {"softplus", GateFunction::kSoftplus, false, false, 0.0, 0.0},
};

}  // namespace

Expected<std::vector<GateActivation>> parseGateActivations(const std::optional<std::vector<std::string>>& names,
                                                           const std::vector<std::string>& defaults, size_t directions,
                                                           const std::vector<float>& alphas,
                                                           const std::vector<float>& betas) {
    std::vector<std::string> wanted;
    if (names) {
        wanted = *names;
    } else {
        for (size_t d = 0; d < directions; ++d) wanted.insert(wanted.end(), defaults.begin(), defaults.end());
    }
    if (wanted.size() != defaults.size() * directions)
        return invalidModel("activations lists " + std::to_string(wanted.size()) + " functions, " +
                            std::to_string(defaults.size() * directions) + " are needed");
    std::vector<GateActivation> result;
    size_t nextAlpha = 0;
    size_t nextBeta = 0;
    for (const std::string& name : wanted) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        const FunctionSpec* spec = nullptr;
        for (const FunctionSpec& candidate : kFunctions)
            if (lower == candidate.name) spec = &candidate;
        if (!spec) return unsupported("unknown activation function '" + name + "'");
        GateActivation activation{spec->function, spec->defaultAlpha, spec->defaultBeta};
        if (spec->takesAlpha && nextAlpha < alphas.size()) activation.alpha = alphas[nextAlpha++];
        if (spec->takesBeta && nextBeta < betas.size()) activation.beta = betas[nextBeta++];
        result.push_back(activation);
    }
    return result;
}

}  // namespace kiln::cpu
