#pragma once
// The scalar math of each pointwise activation, as functors in the style of elementwise_math.h
// (compute values in and out; Half / BFloat16 arrive as float). Attribute values are members,
// copied from the node when the kernel is created.

#include <cmath>
#include <type_traits>

#include "backends/cpu/kernels/elementwise_fast_math.h"
#include "backends/cpu/kernels/elementwise_math.h"

namespace kiln::cpu {

/// NaN stays NaN (numpy's maximum(x, 0), the ONNX reference).
struct ReluOp {
    template <typename T>
    T operator()(T x) const {
        return x < T{0} ? T{0} : x;
    }
};

struct LeakyReluOp {
    float alpha{0.01f};
    template <typename T>
    T operator()(T x) const {
        return selectValue(x < T{0}, static_cast<T>(alpha) * x, x);
    }
};

/// The slope is the second operand, broadcast like a binary op's.
struct PReluOp {
    template <typename T>
    T operator()(T x, T slope) const {
        if constexpr (std::is_unsigned_v<T>)
            return x;
        else if constexpr (std::is_integral_v<T>)
            return x < 0 ? wrapMul(slope, x) : x;
        else
            return selectValue(x < T{0}, slope * x, x);
    }
};

struct EluOp {
    float alpha{1.0f};
    template <typename T>
    T operator()(T x) const {
        return x < T{0} ? static_cast<T>(alpha) * std::expm1(x) : x;
    }
};

struct SeluOp {
    float alpha{1.67326319217681884765625f};
    float gamma{1.05070102214813232421875f};
    template <typename T>
    T operator()(T x) const {
        return static_cast<T>(gamma) * (x > T{0} ? x : static_cast<T>(alpha) * std::expm1(x));
    }
};

/// max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); alpha != 0 (checked by inference).
struct CeluOp {
    float alpha{1.0f};
    template <typename T>
    T operator()(T x) const {
        const T a = static_cast<T>(alpha);
        const T negative = a * std::expm1(x / a);
        return (x > T{0} ? x : T{0}) + (negative < T{0} ? negative : T{0});
    }
};

/// exp is only taken of a non-positive number: no overflow, and full relative accuracy for very
/// negative x (e^x / (1 + e^x) there, 1 / (1 + e^-x) for x >= 0).
struct SigmoidOp {
    template <typename T>
    T operator()(T x) const {
        const T e = expOf(-std::fabs(x));
        const T r = T{1} / (T{1} + e);
        return selectValue(x >= T{0}, r, e * r);
    }
};

struct HardSigmoidOp {
    float alpha{0.2f};
    float beta{0.5f};
    template <typename T>
    T operator()(T x) const {
        const T y = static_cast<T>(alpha) * x + static_cast<T>(beta);
        return selectValue(y < T{0}, T{0}, selectValue(y > T{1}, T{1}, y));
    }
};

/// x * HardSigmoid(x) with alpha = 1/6, beta = 0.5.
struct HardSwishOp {
    template <typename T>
    T operator()(T x) const {
        const T y = x * static_cast<T>(1.0 / 6.0) + static_cast<T>(0.5);
        return x * selectValue(y < T{0}, T{0}, selectValue(y > T{1}, T{1}, y));
    }
};

struct TanhOp {
    template <typename T>
    T operator()(T x) const {
        return tanhOf(x);
    }
};

/// log(1 + exp(x)) without overflow for large x.
struct SoftplusOp {
    template <typename T>
    T operator()(T x) const {
        return x > T{0} ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    }
};

struct SoftsignOp {
    template <typename T>
    T operator()(T x) const {
        return x / (T{1} + std::fabs(x));
    }
};

/// Gelu with approximate="none": 0.5 x (1 + erf(x / sqrt(2))).
struct GeluErfOp {
    template <typename T>
    T operator()(T x) const {
        return static_cast<T>(0.5) * x * (T{1} + erfOf(x * static_cast<T>(0.70710678118654752440)));
    }
};

/// Gelu with approximate="tanh": 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
struct GeluTanhOp {
    template <typename T>
    T operator()(T x) const {
        const T inner = static_cast<T>(0.79788456080286535588) * (x + static_cast<T>(0.044715) * x * x * x);
        return static_cast<T>(0.5) * x * (T{1} + tanhOf(inner));
    }
};

/// Swish (opset 24): x * sigmoid(alpha * x).
struct SwishOp {
    float alpha{1.0f};
    template <typename T>
    T operator()(T x) const {
        return x * SigmoidOp{}(static_cast<T>(alpha) * x);
    }
};

struct MishOp {
    template <typename T>
    T operator()(T x) const {
        return x * tanhOf(SoftplusOp{}(x));
    }
};

struct ThresholdedReluOp {
    float alpha{1.0f};
    template <typename T>
    T operator()(T x) const {
        return selectValue(x > static_cast<T>(alpha), x, T{0});
    }
};

/// x + bias below -lambd, x - bias above lambd, 0 between. Integers compute in double and convert
/// back like Cast (the ONNX reference computes in float and casts).
struct ShrinkOp {
    float lambd{0.5f};
    float bias{0.0f};
    template <typename T>
    T operator()(T x) const {
        if constexpr (std::is_integral_v<T>) {
            const double v = static_cast<double>(x);
            const double y = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
            return castValue<T>(y);
        } else {
            const T l = static_cast<T>(lambd);
            const T b = static_cast<T>(bias);
            return selectValue(x < -l, x + b, selectValue(x > l, x - b, T{0}));
        }
    }
};

/// min(max(x, lo), hi): all values become hi when lo > hi (ONNX Clip); NaN stays NaN.
template <typename T>
inline T clipValue(T x, T lo, T hi) {
    const T y = selectValue(x < lo, lo, x);
    return selectValue(y > hi, hi, y);
}

/// Clip with its bounds read (absent bounds are the type's infinities or extreme values).
template <typename C>
struct ClipOp {
    C lo;
    C hi;
    C operator()(C x) const { return clipValue(x, lo, hi); }
};

}  // namespace kiln::cpu
