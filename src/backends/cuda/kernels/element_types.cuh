#pragma once
// The element types of the CUDA element-wise kernels, and how they apply the scalar rules they share
// with the CPU backend (common/element_rules.h, common/low_precision_rules.h):
// - a storage type T is computed in Compute<T>: float for float16 and bfloat16, T itself otherwise;
//   load() and store() convert (one rounding to the narrow type per result);
// - integer arithmetic wraps (wrapAdd ... of common/element_rules.h), so no op has undefined overflow;
// - castValue() converts as the CPU's castValue does: float -> integer truncates and saturates,
//   NaN -> 0 (integerFromDouble); integer -> narrower integer keeps the low bits; anything -> bool
//   is "!= 0".
// Type lists (DeviceTypes<...>) name the types a kernel is instantiated for; dispatch() maps a
// DataType to its C++ type on the host.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/backend.h"
#include "common/element_rules.h"
#include "common/low_precision_rules.h"

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

// ------------------------------------------------------------------------------------------- Cast

/// Any storage value to storage type To, the way the CPU's castValue does.
template <typename To, typename From>
__device__ __forceinline__ To castValue(From x) {
    if constexpr (std::is_same_v<To, From>) {
        return x;
    } else if constexpr (std::is_same_v<To, bool>) {
        return load(x) != 0;
    } else if constexpr (std::is_integral_v<To> && !std::is_integral_v<From>) {
        return integerFromDouble<To>(static_cast<double>(load(x)));
    } else if constexpr (std::is_same_v<To, __half> || std::is_same_v<To, __nv_bfloat16>) {
        return store<To>(static_cast<float>(load(x)));  // double -> float -> half, as the CPU rounds
    } else {
        return static_cast<To>(load(x));
    }
}

// ------------------------------------------------------------------------------------ low-bit types

/// A computing-type value as a stored element of low-bit type `to` (common/low_precision_rules.h).
/// Integers (and bool) keep their integer value on the way, so that a low-bit integer target takes
/// their low bits exactly, as an integer cast does (the CPU's castToLowBit).
template <typename From>
__device__ __forceinline__ uint8_t toLowBit(From x, DataType to, LowBitCastMode mode) {
    if constexpr (std::is_integral_v<From>) {
        return lowbit::isInteger(to) ? lowbit::encodeInteger(to, static_cast<int64_t>(x), mode)
                                     : lowbit::encode(to, static_cast<double>(x), mode);
    } else {
        return lowbit::encode(to, static_cast<double>(load(x)), mode);
    }
}

/// A stored element of low-bit type `from` as computing type To: its exact value, then castValue's
/// rules. The 2- and 4-bit integers pass as integers, so that a narrower target keeps their low bits
/// (int4 -8 -> uint8 248), as the CPU's castFromLowBit does.
template <typename To>
__device__ __forceinline__ To fromLowBit(uint8_t code, DataType from) {
    const double v = lowbit::decode(from, code);
    return lowbit::isInteger(from) ? castValue<To>(static_cast<int64_t>(v)) : castValue<To>(v);
}

/// Element `i` of `data`, of any numeric, bool or low-bit `type`, as double: for kernels whose
/// parameters (scales, zero points) come in many types and are read a few times per element.
__device__ __forceinline__ double elementAsDouble(const void* data, DataType type, int64_t i) {
    switch (type) {
        case DataType::kFLOAT: return static_cast<const float*>(data)[i];
        case DataType::kDOUBLE: return static_cast<const double*>(data)[i];
        case DataType::kHALF: return __half2float(static_cast<const __half*>(data)[i]);
        case DataType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(data)[i]);
        case DataType::kINT8: return static_cast<const int8_t*>(data)[i];
        case DataType::kUINT8: return static_cast<const uint8_t*>(data)[i];
        case DataType::kINT16: return static_cast<const int16_t*>(data)[i];
        case DataType::kUINT16: return static_cast<const uint16_t*>(data)[i];
        case DataType::kINT32: return static_cast<const int32_t*>(data)[i];
        case DataType::kUINT32: return static_cast<const uint32_t*>(data)[i];
        case DataType::kINT64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
        case DataType::kUINT64: return static_cast<double>(static_cast<const uint64_t*>(data)[i]);
        case DataType::kBOOL: return static_cast<const bool*>(data)[i] ? 1.0 : 0.0;
        default: return lowbit::decode(type, static_cast<const uint8_t*>(data)[i]);
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
