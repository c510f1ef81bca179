#pragma once
// The scalar rules of element-wise integer arithmetic and of Cast's float -> integer conversion,
// written once for the CPU backend (backends/cpu/kernels/elementwise_math.h) and the CUDA backend
// (backends/cuda/kernels/element_types.cuh):
// - integer arithmetic wraps (two's complement, done in the unsigned type): ONNX leaves overflow
//   unspecified and C++ makes signed overflow undefined; wrapping is what every exporter's runtime does;
// - a floating value becomes an integer by truncation toward zero, out-of-range values saturate and
//   NaN becomes 0 (ONNX and C++ leave these undefined; saturation keeps them sane).
// - QuantizeLinear's integer outputs round half to even and saturate (saturateRound).
// Everything is KILN_HD and inline, so each backend compiles it into its own loops.

#include <math.h>

#include <limits>
#include <type_traits>

#include "common/host_device.h"

namespace kiln {

/// The unsigned type integer arithmetic on T is done in: at least `unsigned`, so that small types
/// are not promoted to (overflowing) int.
template <typename T>
using WrapType = std::make_unsigned_t<std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, T>>;

template <typename T>
KILN_HD inline T wrapAdd(T a, T b) {
    return static_cast<T>(static_cast<WrapType<T>>(a) + static_cast<WrapType<T>>(b));
}
template <typename T>
KILN_HD inline T wrapSub(T a, T b) {
    return static_cast<T>(static_cast<WrapType<T>>(a) - static_cast<WrapType<T>>(b));
}
template <typename T>
KILN_HD inline T wrapMul(T a, T b) {
    return static_cast<T>(static_cast<WrapType<T>>(a) * static_cast<WrapType<T>>(b));
}
template <typename T>
KILN_HD inline T wrapNeg(T a) {
    return static_cast<T>(WrapType<T>{0} - static_cast<WrapType<T>>(a));
}

/// The extremes of T as constants: device code may read constexpr variables, not call numeric_limits.
template <typename T>
struct Limits {
    static constexpr T kLowest = std::numeric_limits<T>::lowest();
    static constexpr T kMax = std::numeric_limits<T>::max();
};

/// Cast's float -> integer rule: truncate toward zero, saturate at To's extremes, NaN -> 0.
template <typename To>
KILN_HD inline To integerFromDouble(double v) {
    if (v != v) return To{0};
    if (v <= static_cast<double>(Limits<To>::kLowest)) return Limits<To>::kLowest;
    if (v >= static_cast<double>(Limits<To>::kMax)) return Limits<To>::kMax;
    return static_cast<To>(v);
}

/// Round half to even (the rounding mode is never changed from its default), then clamp to Q's
/// range; NaN gives 0 (ONNX leaves it undefined; C++'s conversion of NaN would be undefined too).
template <typename Q>
KILN_HD inline Q saturateRound(double v) {
    if (v != v) return Q{0};
    const double r = ::nearbyint(v);
    if (r <= static_cast<double>(Limits<Q>::kLowest)) return Limits<Q>::kLowest;
    if (r >= static_cast<double>(Limits<Q>::kMax)) return Limits<Q>::kMax;
    return static_cast<Q>(r);
}

}  // namespace kiln
