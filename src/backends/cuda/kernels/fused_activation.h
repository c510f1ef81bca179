#pragma once
// The activation a fused layer ends with (FusedConv, FusedMatMul: src/ir/ops/fused.cpp), read once from
// the node's `activation` / `activation_params` attributes on the host and applied by the epilogue
// kernels on the device. The formulas are the CPU backend's, in float.

#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/host_device.h"
#include "common/status.h"
#include "ir/graph.h"

namespace kiln::cuda {

enum class ActivationKind : int { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kTanh, kHardSigmoid, kHardSwish, kGelu };

struct FusedActivation {
    ActivationKind kind{ActivationKind::kNone};
    float alpha{0.f};  // Clip: min; LeakyRelu: slope; HardSigmoid: alpha
    float beta{0.f};   // Clip: max; HardSigmoid: beta
};

/// The node's fused activation; an unknown activation name is an error naming the node.
inline Expected<FusedActivation> parseFusedActivation(const Node& node) {
    const std::string name = node.attrs.getString("activation", "");
    const std::vector<float> params = node.attrs.getFloats("activation_params").value_or(std::vector<float>{});
    auto param = [&](size_t i, float fallback) { return i < params.size() ? params[i] : fallback; };
    FusedActivation a;
    if (name.empty()) a.kind = ActivationKind::kNone;
    else if (name == "Relu") a.kind = ActivationKind::kRelu;
    else if (name == "Clip") a = {ActivationKind::kClip, param(0, -INFINITY), param(1, INFINITY)};
    else if (name == "LeakyRelu") a = {ActivationKind::kLeakyRelu, param(0, 0.01f), 0.f};
    else if (name == "Sigmoid") a.kind = ActivationKind::kSigmoid;
    else if (name == "Tanh") a.kind = ActivationKind::kTanh;
    else if (name == "HardSigmoid") a = {ActivationKind::kHardSigmoid, param(0, 0.2f), param(1, 0.5f)};
    else if (name == "HardSwish") a.kind = ActivationKind::kHardSwish;
    else if (name == "Gelu") a.kind = ActivationKind::kGelu;
    else return unsupported(node.describe() + ": fused activation '" + name + "' has no CUDA epilogue");
    return a;
}

/// The activation as tactic names show it: "identity", "relu", "gelu", ...
inline const char* activationTacticName(ActivationKind kind) {
    switch (kind) {
        case ActivationKind::kNone: return "identity";
        case ActivationKind::kRelu: return "relu";
        case ActivationKind::kClip: return "clip";
        case ActivationKind::kLeakyRelu: return "leaky_relu";
        case ActivationKind::kSigmoid: return "sigmoid";
        case ActivationKind::kTanh: return "tanh";
        case ActivationKind::kHardSigmoid: return "hard_sigmoid";
        case ActivationKind::kHardSwish: return "hard_swish";
        case ActivationKind::kGelu: return "gelu";
    }
    return "unknown";
}

/// GELU's exact form x * Phi(x) for 16-bit outputs, Phi from Abramowitz & Stegun 7.1.26's erfc,
/// branch-free. In float arithmetic it stays within 6.3e-7 of the exact GELU over [-12, 12]: under one
/// float16 ulp wherever |GELU(x)| >= 1e-6 and under a quarter ulp where |GELU(x)| >= 1e-3 (erff's
/// 0.5 x (1 + erf) cancels digits in the negative tail, which this form does not). A CUTLASS epilogue
/// (50 M GELUs after BERT-base batch 128's FFN product) is bound by this arithmetic, each instruction an
/// element costing that product ~2.5 % on an H200 (docs/BENCHMARKS.md), so the form is counted:
///   x Phi(x) = max(x, 0) - |x| Phi(-|x|),  Phi(-|x|) = t P(t) exp(-x^2 / 2),  t = 1 / (1 + p |x| / sqrt 2),
/// one multiply-add for t's denominator, two multiplies for the exponent, the two special-function ops,
/// four multiply-adds for P (the 1/2 of Phi in its coefficients), two multiplies and a max, and one
/// multiply-add to finish: 13, where x (1 - h) or x h picked by sign took 15. On the device the
/// special-function ops are the flush-to-zero approximations, which skip the denormal scaling around
/// them (1 + 0.23 |x| >= 1, and an exp2 below -126 is 0 either way).
KILN_HD inline float geluForHalfPrecision(float x) {
    const float magnitude = fabsf(x);
    const float d = magnitude * (0.3275911f * 0.70710678118654752f) + 1.f;
    const float exponent = (x * -0.72134752044448170f) * x;  // -x^2 / 2 * log2(e)
#ifdef __CUDA_ARCH__
    float t, gaussian;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(t) : "f"(d));
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(gaussian) : "f"(exponent));
#else
    const float t = 1.f / d;
    const float gaussian = std::exp2(exponent);
#endif
    float poly = t * (0.5f * 1.061405429f) - 0.5f * 1.453152027f;
    poly = t * poly + 0.5f * 1.421413741f;
    poly = t * poly - 0.5f * 0.284496736f;
    poly = t * poly + 0.5f * 0.254829592f;
    // |x| Phi(-|x|) off max(x, 0): x - x Phi(-x) above 0, x Phi(x) below.
    return fmaf(-(magnitude * gaussian), poly * t, fmaxf(x, 0.f));
}

#ifdef __CUDACC__
__device__ __forceinline__ float applyActivation(const FusedActivation& a, float x) {
    switch (a.kind) {
        case ActivationKind::kNone: return x;
        case ActivationKind::kRelu: return x > 0.f ? x : 0.f;
        case ActivationKind::kClip: return fminf(fmaxf(x, a.alpha), a.beta);
        case ActivationKind::kLeakyRelu: return x >= 0.f ? x : a.alpha * x;
        case ActivationKind::kSigmoid: return 1.f / (1.f + expf(-x));
        case ActivationKind::kTanh: return tanhf(x);
        case ActivationKind::kHardSigmoid: return fminf(1.f, fmaxf(0.f, a.alpha * x + a.beta));
        case ActivationKind::kHardSwish: return x * fminf(1.f, fmaxf(0.f, x / 6.f + 0.5f));
        case ActivationKind::kGelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    }
    return x;
}

/// The activation of a value stored as T afterwards: a 16-bit output's GELU takes geluForHalfPrecision.
template <typename T>
__device__ __forceinline__ float applyActivationStoredAs(const FusedActivation& a, float x) {
    if constexpr (sizeof(T) == 2) {
        if (a.kind == ActivationKind::kGelu) return geluForHalfPrecision(x);
    }
    return applyActivation(a, x);
}
#endif

/// y[i] = act(y[i] + bias[(i / inner) % channels] + residual[i]) over `count` float elements, in place;
/// bias and residual may be null. Serves a convolution's NCHW output (inner = H*W), its channels-last
/// NHWC output (inner = 1, channels = K) and a product's rows (inner = 1, channels = N).
Status launchBiasResidualActivation(float* y, const float* bias, const float* residual, FusedActivation activation,
                                    int64_t count, int64_t channels, int64_t inner, cudaStream_t stream);
/// The same on float, float16 or bfloat16 data `y` and residual of `type`; the bias is of `type` or
/// float (sums and activation in float, one rounding per result).
Status launchBiasResidualActivation(DataType type, void* y, DataType biasType, const void* bias, const void* residual,
                                    FusedActivation activation, int64_t count, int64_t channels, int64_t inner,
                                    cudaStream_t stream);

}  // namespace kiln::cuda
