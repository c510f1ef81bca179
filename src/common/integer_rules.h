#pragma once
// The integer rules of the element-wise ops that ONNX leaves open, written once for the CPU backend
// (backends/cpu/kernels/elementwise_math.h) and the CUDA kernels (elementwise.cu, elementwise_logic.cu),
// all KILN_HD:
// - integer division and modulo by zero give 0 (ONNX leaves them undefined and C++ traps on them; a
//   defined, non-crashing result lets a model with a masked-out lane run), MIN / -1 wraps;
// - integer Pow squares with wrapping; a negative exponent gives the truncated reciprocal;
// - BitShift by an amount out of [0, bit width) gives the sign fill.

#include <cstdint>
#include <type_traits>

#include "common/element_rules.h"
#include "common/host_device.h"

namespace kiln {

/// Integer division truncates toward zero (ONNX follows C); x / 0 is 0 and MIN / -1 wraps to MIN.
template <typename T>
KILN_HD inline T integerDivide(T a, T b) {
    if (b == 0) return T{0};
    if constexpr (std::is_signed_v<T>) {
        if (b == T{-1}) return wrapNeg(a);
    }
    return static_cast<T>(a / b);
}

/// Mod with fmod=1 on integers: A - trunc(A / B) * B, the sign of A (C's %); x % 0 is 0.
template <typename T>
KILN_HD inline T integerModTrunc(T a, T b) {
    if (b == 0) return T{0};
    if constexpr (std::is_signed_v<T>) {
        if (b == T{-1}) return T{0};  // MIN % -1 overflows in C++
    }
    return static_cast<T>(a % b);
}

/// Mod with fmod=0 on integers: A - floor(A / B) * B, the sign of B (Python's %); x % 0 is 0.
template <typename T>
KILN_HD inline T integerModFloor(T a, T b) {
    if (b == 0) return T{0};
    if constexpr (std::is_signed_v<T>) {
        if (b == T{-1}) return T{0};
        T r = static_cast<T>(a % b);
        if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
        return r;
    } else {
        return static_cast<T>(a % b);
    }
}

/// Integer power by squaring, wrapping on overflow. A negative exponent gives the truncated
/// reciprocal: 1 for base 1, +-1 for base -1, and 0 otherwise (also 0 for base 0: no trap).
template <typename T, typename E>
KILN_HD inline T intPow(T base, E exponent) {
    if constexpr (std::is_signed_v<E>) {
        if (exponent < 0) {
            if (base == T{1}) return T{1};
            if constexpr (std::is_signed_v<T>) {
                if (base == T{-1}) return (exponent % 2 == 0) ? T{1} : T{-1};
            }
            return T{0};
        }
    }
    T result{1};
    auto e = static_cast<std::make_unsigned_t<E>>(exponent);
    while (e != 0) {
        if (e & 1u) result = wrapMul(result, base);
        base = wrapMul(base, base);
        e >>= 1u;
    }
    return result;
}

template <typename T>
KILN_HD inline bool shiftInRange(T amount) {
    if constexpr (std::is_signed_v<T>) {
        if (amount < 0) return false;
    }
    return static_cast<uint64_t>(amount) < sizeof(T) * 8;
}

/// Bits moved past the top are dropped (also into and past a signed type's sign bit); an amount < 0
/// or >= the bit width gives 0 (ONNX BitShift).
template <typename T>
KILN_HD inline T shiftLeft(T x, T amount) {
    if (!shiftInRange(amount)) return T{0};
    return static_cast<T>(static_cast<WrapType<T>>(x) << amount);
}

/// Arithmetic (sign-extending) for signed types; an amount < 0 or >= the bit width gives the sign
/// fill alone: -1 for a negative signed x, else 0 (ONNX BitShift).
template <typename T>
KILN_HD inline T shiftRight(T x, T amount) {
    if (!shiftInRange(amount)) {
        if constexpr (std::is_signed_v<T>)
            return x < 0 ? T{-1} : T{0};
        else
            return T{0};
    }
    return static_cast<T>(x >> amount);
}

}  // namespace kiln
