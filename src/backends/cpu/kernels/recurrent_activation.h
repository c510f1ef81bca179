#pragma once
// The gate activations of RNN / GRU / LSTM, named by the `activations` attribute, with the
// `activation_alpha` / `activation_beta` lists shared out in order to the functions that take
// them (ONNX's rule; absent values take each function's default).

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/cpu/kernels/elementwise_fast_math.h"
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

    /// Applies the function to x[0, n) in place. One switch per array and branch-free element
    /// math (elementwise_fast_math.h) let each loop vectorize.
    template <typename T>
    void apply(T* x, int64_t n) const {
        const T a = static_cast<T>(alpha);
        const T b = static_cast<T>(beta);
        switch (function) {
            case GateFunction::kRelu:
                for (int64_t i = 0; i < n; ++i) x[i] = selectValue(x[i] > T{0}, x[i], T{0});
                break;
            case GateFunction::kTanh:
                for (int64_t i = 0; i < n; ++i) x[i] = tanhOf(x[i]);
                break;
            case GateFunction::kSigmoid:
                // exp of a non-positive number only: no overflow for large |x|.
                for (int64_t i = 0; i < n; ++i) {
                    const T e = expOf(-std::fabs(x[i]));
                    const T r = T{1} / (T{1} + e);
                    x[i] = selectValue(x[i] >= T{0}, r, e * r);
                }
                break;
            case GateFunction::kAffine:
                for (int64_t i = 0; i < n; ++i) x[i] = a * x[i] + b;
                break;
            case GateFunction::kLeakyRelu:
                for (int64_t i = 0; i < n; ++i) x[i] = selectValue(x[i] >= T{0}, x[i], a * x[i]);
                break;
            case GateFunction::kThresholdedRelu:
                for (int64_t i = 0; i < n; ++i) x[i] = selectValue(x[i] >= a, x[i], T{0});
                break;
            case GateFunction::kScaledTanh:
                for (int64_t i = 0; i < n; ++i) x[i] = a * tanhOf(b * x[i]);
                break;
            case GateFunction::kHardSigmoid:
                for (int64_t i = 0; i < n; ++i) x[i] = std::fmax(T{0}, std::fmin(T{1}, a * x[i] + b));
                break;
            case GateFunction::kElu:
                for (int64_t i = 0; i < n; ++i) x[i] = selectValue(x[i] >= T{0}, x[i], a * (expOf(x[i]) - T{1}));
                break;
            case GateFunction::kSoftsign:
                for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (T{1} + std::fabs(x[i]));
                break;
            case GateFunction::kSoftplus:
                for (int64_t i = 0; i < n; ++i) x[i] = std::log1p(expOf(-std::fabs(x[i]))) + std::fmax(x[i], T{0});
                break;
        }
    }
};

/// The activations of every direction, in the attribute's order: `defaults` (one direction's
/// functions) repeated per direction when the attribute is absent.
Expected<std::vector<GateActivation>> parseGateActivations(const std::optional<std::vector<std::string>>& names,
                                                           const std::vector<std::string>& defaults, size_t directions,
                                                           const std::vector<float>& alphas,
                                                           const std::vector<float>& betas);

}  // namespace kiln::cpu
