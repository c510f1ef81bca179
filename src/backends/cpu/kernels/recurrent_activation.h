#pragma once
// The gate activations of RNN / GRU / LSTM, named by the `activations` attribute, with the
// `activation_alpha` / `activation_beta` lists shared out in order to the functions that take
// them (ONNX's rule; absent values take each function's default).

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln::cpu {

enum class GateFunction {
    kRelu,
    kTanh,
    kSigmoid,
    kAffine,
    kLeakyRelu,
    kThresholdedRelu,
    kScaledTanh,
    kHardSigmoid,
    kElu,
    kSoftsign,
    kSoftplus,
};

struct GateActivation {
    GateFunction function{GateFunction::kTanh};
    double alpha{0.0};
    double beta{0.0};

    template <typename T>
    T operator()(T x) const {
        const T a = static_cast<T>(alpha);
        const T b = static_cast<T>(beta);
        switch (function) {
            case GateFunction::kRelu: return x > T{0} ? x : T{0};
            case GateFunction::kTanh: return std::tanh(x);
            case GateFunction::kSigmoid:
                // exp of a non-positive number only: no overflow for large |x|.
                return x >= T{0} ? T{1} / (T{1} + std::exp(-x)) : std::exp(x) / (T{1} + std::exp(x));
            case GateFunction::kAffine: return a * x + b;
            case GateFunction::kLeakyRelu: return x >= T{0} ? x : a * x;
            case GateFunction::kThresholdedRelu: return x >= a ? x : T{0};
            case GateFunction::kScaledTanh: return a * std::tanh(b * x);
            case GateFunction::kHardSigmoid: return std::fmax(T{0}, std::fmin(T{1}, a * x + b));
            case GateFunction::kElu: return x >= T{0} ? x : a * (std::exp(x) - T{1});
            case GateFunction::kSoftsign: return x / (T{1} + std::fabs(x));
            case GateFunction::kSoftplus: return std::log1p(std::exp(-std::fabs(x))) + std::fmax(x, T{0});
        }
        return x;
    }
};

/// The activations of every direction, in the attribute's order: `defaults` (one direction's
/// functions) repeated per direction when the attribute is absent.
Expected<std::vector<GateActivation>> parseGateActivations(const std::optional<std::vector<std::string>>& names,
                                                           const std::vector<std::string>& defaults, size_t directions,
                                                           const std::vector<float>& alphas,
                                                           const std::vector<float>& betas);

}  // namespace kiln::cpu
