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

/// GELU's exact form x * Phi(x) for 16-bit outputs, branch-free:
///   x Phi(x) = max(x, 0) - a Phi(-a),  a = |x|,  Phi(-a) = 2^R(a),
/// R a degree-5 polynomial fitted to log2 Phi(-a) over [0, 6.4], each point weighted by what its error moves
/// the result in float16 ulps (float coefficients): the result within 0.2 float16 ulp of the exact GELU
/// everywhere (the host test's bound), where 0.5 x (1 + erf) cancels digits in the negative tail.
/// A CUTLASS epilogue (50 M GELUs after BERT-base batch 128's FFN product) is bound by this arithmetic, each
/// instruction an element costing that product ~2.5 % on an H200 (docs/BENCHMARKS.md), so the form is
/// counted: five multiply-adds, one exp2 (the flush-to-zero special-function op), a max and a multiply-add
/// (|x| an operand modifier): 8, and a min more for geluForHalfPrecision's cap; degree 6 took 10 with the
/// cap (within 0.015 ulp), a degree-7 fit over [0, 8] 11 and the A&S 7.1.26 erfc form 13 (and two
/// special-function ops).
KILN_HD inline float geluTailExponent(float a) {
    float r = -3.293915943e-04f;
    r = fmaf(r, a, 5.912324414e-03f);
    r = fmaf(r, a, -4.852103442e-02f);
    r = fmaf(r, a, -4.637292027e-01f);
    r = fmaf(r, a, -1.149374485e+00f);
    return fmaf(r, a, -1.000115991e+00f);
}

/// max(x, -0) - a 2^R(a), a = |x| or its cap; on the device the flush-to-zero exp2 (0 for R <= -126).
/// The max with -0 keeps a negative x's result negative where the tail term flushes to 0 (-0 + -0),
/// as the exact GELU's tiny negative value rounds to -0 in float16.
KILN_HD inline float geluFromTail(float x, float a) {
#ifdef __CUDA_ARCH__
    float tail;  // Phi(-a)
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(tail) : "f"(geluTailExponent(a)));
#else
    const float tail = std::exp2(geluTailExponent(a));
#endif
    return fmaf(-a, tail, fmaxf(x, -0.f));
}

/// The GELU of any float. a is capped at 6.4: beyond it a Phi(-a) (5e-10 at the cap) is below half the
/// smallest float16 subnormal, so a negative input's result rounds to -0 and a positive one's to x, as the
/// exact GELU's do; the cap keeps the product finite for any input (inf gives inf or a -0 in float16; NaN
/// stays NaN).
KILN_HD inline float geluForHalfPrecision(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    float a;  // min(|x|, 6.4), NaN kept
    asm("min.NaN.f32 %0, %1, 0f40CCCCCD;" : "=f"(a) : "f"(fabsf(x)));
#else
    const float a = x != x ? x : fminf(fabsf(x), 6.4f);
#endif
    return geluFromTail(x, a);
}

/// The GELU of a float16 product's accumulator (plus bias), without the cap: an instruction fewer an
/// element. R's leading coefficient is negative, so past the fit R keeps falling (to -inf where the
/// polynomial overflows) and a 2^R(a) stays below the cap's 5e-10: for every finite x the float16 result
/// is geluForHalfPrecision's (the host test checks a million floats past the cap, of every binade). An
/// infinite x gives NaN (inf * 0) where the cap gives inf or -0; a float16 product's accumulator is
/// infinite only when an input is (|a b| <= 65504^2 over any practical K), unlike a bfloat16 one's, so
/// bfloat16 products keep the cap.
KILN_HD inline float geluOfFloat16Product(float x) {
    return geluFromTail(x, fabsf(x));
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
