#pragma once
// The element types of the CUDA element-wise kernels, and the scalar rules they share with the CPU
// backend (backends/cpu/kernels/elementwise_math.h), restated for the device:
// - a storage type T is computed in Compute<T>: float for float16 and bfloat16, T itself otherwise;
//   load() and store() convert (one rounding to the narrow type per result);
// - integer arithmetic wraps (done in the unsigned type), so no op has undefined overflow;
// - castValue() converts as Cast does: float -> integer truncates and saturates, NaN -> 0; integer ->
//   narrower integer keeps the low bits; anything -> bool is "!= 0".
// Type lists (DeviceTypes<...>) name the types a kernel is instantiated for; dispatch() maps a
// DataType to its C++ type on the host.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/backend.h"

namespace kiln::cuda {

// ------------------------------------------------------------------------------------ type <-> DataType

template <typename T>
struct DeviceDataType;
#define KILN_DEVICE_DATA_TYPE(T, tag)                     \
    template <>                                           \
    struct DeviceDataType<T> {                            \
        static constexpr DataType value = DataType::tag; \
    }
KILN_DEVICE_DATA_TYPE(float, kFLOAT);
KILN_DEVICE_DATA_TYPE(__half, kHALF);
KILN_DEVICE_DATA_TYPE(__nv_bfloat16, kBF16);
KILN_DEVICE_DATA_TYPE(double, kDOUBLE);
KILN_DEVICE_DATA_TYPE(int8_t, kINT8);
KILN_DEVICE_DATA_TYPE(int16_t, kINT16);
KILN_DEVICE_DATA_TYPE(int32_t, kINT32);
KILN_DEVICE_DATA_TYPE(int64_t, kINT64);
KILN_DEVICE_DATA_TYPE(uint8_t, kUINT8);
KILN_DEVICE_DATA_TYPE(uint16_t, kUINT16);
KILN_DEVICE_DATA_TYPE(uint32_t, kUINT32);
KILN_DEVICE_DATA_TYPE(uint64_t, kUINT64);
KILN_DEVICE_DATA_TYPE(bool, kBOOL);
#undef KILN_DEVICE_DATA_TYPE

template <typename... Ts>
struct DeviceTypes {
    static bool contains(DataType type) { return ((type == DeviceDataType<Ts>::value) || ...); }
    /// Calls fn(T{}) for the listed T whose DataType is `type`; false when none is.
    template <typename Fn>
    static bool dispatch(DataType type, Fn&& fn) {
        return ((type == DeviceDataType<Ts>::value ? (fn(Ts{}), true) : false) || ...);
    }
    /// The Status of fn(T{}) for the listed T whose DataType is `type`; `otherwise` when none is.
    template <typename Fn>
    static Status dispatchStatus(DataType type, Status otherwise, Fn&& fn) {
        Status result = std::move(otherwise);
        ((type == DeviceDataType<Ts>::value ? (void)(result = fn(Ts{})) : (void)0), ...);
        return result;
    }
    static std::vector<DataType> types() { return {DeviceDataType<Ts>::value...}; }
};

using HalfFloatTypes = DeviceTypes<float, __half>;
using FloatTypes = DeviceTypes<float, double, __half, __nv_bfloat16>;
using IntegerTypes = DeviceTypes<int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using SignedNumericTypes = DeviceTypes<float, double, __half, __nv_bfloat16, int8_t, int16_t, int32_t, int64_t>;
using NumericTypes = DeviceTypes<float, double, __half, __nv_bfloat16, int8_t, int16_t, int32_t, int64_t, uint8_t,
                                 uint16_t, uint32_t, uint64_t>;
using AllTypes = DeviceTypes<float, double, __half, __nv_bfloat16, int8_t, int16_t, int32_t, int64_t, uint8_t,
                             uint16_t, uint32_t, uint64_t, bool>;
using BoolTypes = DeviceTypes<bool>;

// ------------------------------------------------------------------------------------- compute types

template <typename T>
struct ComputeTypeOf {
    using type = T;
};
template <>
struct ComputeTypeOf<__half> {
    using type = float;
};
template <>
struct ComputeTypeOf<__nv_bfloat16> {
    using type = float;
};
template <typename T>
using Compute = typename ComputeTypeOf<T>::type;

template <typename T>
__device__ __forceinline__ Compute<T> load(T v) {
    if constexpr (std::is_same_v<T, __half>)
        return __half2float(v);
    else if constexpr (std::is_same_v<T, __nv_bfloat16>)
        return __bfloat162float(v);
    else
        return v;
}

/// A compute value to storage type T (to-nearest-even for the narrow floats, as the CPU's Half and
/// BFloat16 constructors round).
template <typename T, typename C>
__device__ __forceinline__ T store(C v) {
    if constexpr (std::is_same_v<T, __half>)
        return __float2half_rn(static_cast<float>(v));
    else if constexpr (std::is_same_v<T, __nv_bfloat16>)
        return __float2bfloat16_rn(static_cast<float>(v));
    else
        return static_cast<T>(v);
}

/// Marks functors whose result is bool whatever the input type (comparisons, IsNaN, ...).
struct PredicateFn {};
template <typename Fn, typename T>
using OutputOf = std::conditional_t<std::is_base_of_v<PredicateFn, Fn>, bool, T>;

// ------------------------------------------------------------------------------------------ integers

/// The unsigned type integer arithmetic on T is done in: at least `unsigned`, so that small types are
/// not promoted to (overflowing) int.
template <typename T>
using WrapType = std::make_unsigned_t<std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, T>>;

template <typename T>
__device__ __forceinline__ T wrapAdd(T a, T b) {
    return static_cast<T>(static_cast<WrapType<T>>(a) + static_cast<WrapType<T>>(b));
}
template <typename T>
__device__ __forceinline__ T wrapSub(T a, T b) {
    return static_cast<T>(static_cast<WrapType<T>>(a) - static_cast<WrapType<T>>(b));
}
template <typename T>
__device__ __forceinline__ T wrapMul(T a, T b) {
    return static_cast<T>(static_cast<WrapType<T>>(a) * static_cast<WrapType<T>>(b));
}
template <typename T>
__device__ __forceinline__ T wrapNeg(T a) {
    return static_cast<T>(WrapType<T>{0} - static_cast<WrapType<T>>(a));
}

/// The extremes of T as constants: device code may read constexpr variables, not call numeric_limits.
template <typename T>
struct Limits {
    static constexpr T kLowest = std::numeric_limits<T>::lowest();
    static constexpr T kMax = std::numeric_limits<T>::max();
};

// ------------------------------------------------------------------------------------------- Cast

/// Any storage value to storage type To, the way the CPU's castValue does.
template <typename To, typename From>
__device__ __forceinline__ To castValue(From x) {
    if constexpr (std::is_same_v<To, From>) {
        return x;
    } else if constexpr (std::is_same_v<To, bool>) {
        return load(x) != 0;
    } else if constexpr (std::is_integral_v<To> && !std::is_integral_v<From>) {
        const double v = static_cast<double>(load(x));
        if (v != v) return To{0};
        if (v <= static_cast<double>(Limits<To>::kLowest)) return Limits<To>::kLowest;
        if (v >= static_cast<double>(Limits<To>::kMax)) return Limits<To>::kMax;
        return static_cast<To>(v);
    } else if constexpr (std::is_same_v<To, __half> || std::is_same_v<To, __nv_bfloat16>) {
        return store<To>(static_cast<float>(load(x)));  // double -> float -> half, as the CPU rounds
    } else {
        return static_cast<To>(load(x));
    }
}

// ------------------------------------------------------------------------------- float math by type

/// name##Of(x): the float or the double device function, picked by the compute type.
#define KILN_DEVICE_MATH_1(name)                                   \
    template <typename C>                                          \
    __device__ __forceinline__ C name##Of(C x) {                   \
        if constexpr (std::is_same_v<C, float>)                    \
            return name##f(x);                                     \
        else                                                       \
            return name(x);                                        \
    }
KILN_DEVICE_MATH_1(sqrt)
KILN_DEVICE_MATH_1(exp)
KILN_DEVICE_MATH_1(expm1)
KILN_DEVICE_MATH_1(log1p)
KILN_DEVICE_MATH_1(log)
KILN_DEVICE_MATH_1(ceil)
KILN_DEVICE_MATH_1(floor)
KILN_DEVICE_MATH_1(rint)
KILN_DEVICE_MATH_1(erf)
KILN_DEVICE_MATH_1(sin)
KILN_DEVICE_MATH_1(cos)
KILN_DEVICE_MATH_1(tan)
KILN_DEVICE_MATH_1(asin)
KILN_DEVICE_MATH_1(acos)
KILN_DEVICE_MATH_1(atan)
KILN_DEVICE_MATH_1(sinh)
KILN_DEVICE_MATH_1(cosh)
KILN_DEVICE_MATH_1(tanh)
KILN_DEVICE_MATH_1(asinh)
KILN_DEVICE_MATH_1(acosh)
KILN_DEVICE_MATH_1(atanh)
KILN_DEVICE_MATH_1(fabs)
#undef KILN_DEVICE_MATH_1

template <typename C>
__device__ __forceinline__ C fmodOf(C a, C b) {
    if constexpr (std::is_same_v<C, float>)
        return fmodf(a, b);
    else
        return fmod(a, b);
}
template <typename C>
__device__ __forceinline__ C powOf(C a, C b) {
    if constexpr (std::is_same_v<C, float>)
        return powf(a, b);
    else
        return pow(a, b);
}
template <typename C>
__device__ __forceinline__ C copysignOf(C a, C b) {
    if constexpr (std::is_same_v<C, float>)
        return copysignf(a, b);
    else
        return copysign(a, b);
}

}  // namespace kiln::cuda
