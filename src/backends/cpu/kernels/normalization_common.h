#pragma once
// Pieces shared by the normalization kernels.

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "backends/tensor_view.h"
#include "ir/dtype.h"

namespace kiln {
class CpuKernelRegistry;
}

namespace kiln::cpu {

/// Normalizations over fewer elements than this run on one thread: the fork/join costs more.
constexpr int64_t kNormParallelWork = 32768;

/// Element i of a (small) parameter tensor of any numeric type, as double.
inline double loadElement(const TensorView& view, int64_t i) {
    return dispatchDataType(view.dtype, [&](auto tag) -> double {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
            return static_cast<float>(view.as<const T>()[i]);
        else
            return static_cast<double>(view.as<const T>()[i]);
    });
}

/// Stores `value` as element i of a floating tensor (statistics outputs of any stash type).
inline void storeElement(const TensorView& view, int64_t i, double value) {
    dispatchDataType(view.dtype, [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
            view.as<T>()[i] = T(static_cast<float>(value));
        else if constexpr (!std::is_same_v<T, bool>)
            view.as<T>()[i] = static_cast<T>(value);
    });
}

/// The storage types the normalization kernels are compiled for.
template <typename T>
constexpr bool kIsNormStorage =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

/// The arithmetic type a normalization computes its final affine pass in.
template <typename T>
using NormCompute = std::conditional_t<std::is_same_v<T, double>, double, float>;

struct Moments {
    double mean;
    double variance;  // population variance
};

/// Mean and variance of `count` contiguous values, two-pass in double (stable for large means).
template <typename T>
Moments contiguousMoments(const T* x, int64_t count) {
    if (count == 0) return {0.0, 0.0};
    double sum = 0;
    for (int64_t i = 0; i < count; ++i) sum += static_cast<double>(static_cast<NormCompute<T>>(x[i]));
    const double mean = sum / static_cast<double>(count);
    double squares = 0;
    for (int64_t i = 0; i < count; ++i) {
        const double d = static_cast<double>(static_cast<NormCompute<T>>(x[i])) - mean;
        squares += d * d;
    }
    return {mean, squares / static_cast<double>(count)};
}

/// LayerNormalization, LpNormalization, MeanVarianceNormalization (normalization_layer.cpp).
void registerLayerNormalizationKernels(CpuKernelRegistry& registry);

}  // namespace kiln::cpu
