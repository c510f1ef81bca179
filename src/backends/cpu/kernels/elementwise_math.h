#pragma once
// The scalar math of each elementwise op, one small functor per op, shared by the elementwise
// kernels and by fused pointwise kernels (which chain the functors in one loop).
//
// Conventions:
// - A functor's operator() takes and returns compute values: ComputeType<T> of the storage type T,
//   which is float for Half / BFloat16 and T itself otherwise. load() / store() convert.
// - Functors deriving from PredicateOp return bool (comparisons, IsNaN, ...).
// - Integer arithmetic wraps (two's complement) instead of overflowing: the wrap helpers are in
//   common/element_rules.h, shared with the CUDA kernels.
// - Integer division and modulo by zero yield 0, and integer Pow and BitShift follow the rules of
//   common/integer_rules.h (integerDivide, integerModTrunc, integerModFloor, intPow, shiftLeft /
//   shiftRight), which the CUDA kernels share.

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "backends/cpu/kernels/elementwise_fast_math.h"
#include "common/element_rules.h"
#include "common/integer_rules.h"
#include "common/half.h"

namespace kiln::cpu {

template <typename T>
struct ComputeTypeOf {
    using type = T;
};
template <>
struct ComputeTypeOf<Half> {
    using type = float;
};
template <>
struct ComputeTypeOf<BFloat16> {
    using type = float;
};
template <typename T>
using ComputeType = typename ComputeTypeOf<T>::type;

template <typename T>
inline ComputeType<T> load(T x) {
    return static_cast<ComputeType<T>>(x);
}
template <typename T, typename C>
inline T store(C x) {
    return static_cast<T>(x);
}

/// Marks functors whose result is bool whatever the input type.
struct PredicateOp {};
template <typename Op, typename T>
using OutputOf = std::conditional_t<std::is_base_of_v<PredicateOp, Op>, bool, T>;

/// Any value to T the way Cast does. Float to integer truncates toward zero, saturates and maps NaN
/// to 0 (common/element_rules.h: integerFromDouble). Integer to narrower integer keeps the low bits
/// (ONNX's rule). Anything to bool is "!= 0".
template <typename To, typename From>
inline To castValue(From x) {
    if constexpr (std::is_same_v<To, From>) {
        return x;
    } else if constexpr (std::is_same_v<To, bool>) {
        return load(x) != 0;
    } else if constexpr (std::is_integral_v<To> && !std::is_integral_v<From>) {
        return integerFromDouble<To>(static_cast<double>(load(x)));
    } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
        return To(static_cast<float>(load(x)));  // double -> float -> half rounds twice; off by an ulp at most
    } else {
        return static_cast<To>(load(x));
    }
}

template <typename To>
struct CastOp {
    template <typename C>
    To operator()(C x) const {
        return castValue<To>(x);
    }
};

// ---- binary arithmetic ---------------------------------------------------------------------------

struct AddOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_integral_v<T>)
            return wrapAdd(a, b);
        else
            return a + b;
    }
};

struct SubOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_integral_v<T>)
            return wrapSub(a, b);
        else
            return a - b;
    }
};

struct MulOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_integral_v<T>)
            return wrapMul(a, b);
        else
            return a * b;
    }
};

/// Integer division truncates toward zero (ONNX follows C); x / 0 is 0 and MIN / -1 wraps to MIN.
struct DivOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_integral_v<T>)
            return integerDivide(a, b);
        else
            return a / b;
    }
};

/// Mod with fmod=1: A - trunc(A / B) * B, the sign of A (C's % and fmod).
struct ModTruncOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_integral_v<T>)
            return integerModTrunc(a, b);
        else
            return std::fmod(a, b);
    }
};

/// Mod with fmod=0: A - floor(A / B) * B, the sign of B (Python's %). A zero result takes B's sign.
struct ModFloorOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_integral_v<T>) {
            return integerModFloor(a, b);
        } else {
            T r = std::fmod(a, b);
            if (r == T{0}) return std::copysign(T{0}, b);
            if ((r < 0) != (b < 0)) r += b;
            return r;
        }
    }
};

/// Pow with independent base and exponent types; the result has the base's type (ONNX's rule,
/// matching numpy's power(a, b).astype(a.dtype)).
struct PowOp {
    template <typename A, typename B>
    A operator()(A base, B exponent) const {
        if constexpr (std::is_integral_v<A> && std::is_integral_v<B>) {
            return intPow(base, exponent);
        } else if constexpr (std::is_integral_v<A>) {
            return castValue<A>(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
        } else if constexpr (std::is_same_v<A, B>) {
            return std::pow(base, exponent);
        } else {
            return static_cast<A>(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
        }
    }
};

/// Max / Min propagate NaN (as numpy's maximum / minimum and the ONNX reference do).
struct MaxOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_floating_point_v<T>)
            return (a > b || a != a) ? a : b;
        else
            return a > b ? a : b;
    }
};

struct MinOp {
    template <typename T>
    T operator()(T a, T b) const {
        if constexpr (std::is_floating_point_v<T>)
            return (a < b || a != a) ? a : b;
        else
            return a < b ? a : b;
    }
};

// ---- comparison and logic ------------------------------------------------------------------------

struct EqualOp : PredicateOp {
    template <typename T>
    bool operator()(T a, T b) const {
        return a == b;
    }
};
struct LessOp : PredicateOp {
    template <typename T>
    bool operator()(T a, T b) const {
        return a < b;
    }
};
struct GreaterOp : PredicateOp {
    template <typename T>
    bool operator()(T a, T b) const {
        return a > b;
    }
};
struct LessOrEqualOp : PredicateOp {
    template <typename T>
    bool operator()(T a, T b) const {
        return a <= b;
    }
};
struct GreaterOrEqualOp : PredicateOp {
    template <typename T>
    bool operator()(T a, T b) const {
        return a >= b;
    }
};

struct AndOp {
    bool operator()(bool a, bool b) const { return a && b; }
};
struct OrOp {
    bool operator()(bool a, bool b) const { return a || b; }
};
struct XorOp {
    bool operator()(bool a, bool b) const { return a != b; }
};
struct NotOp {
    bool operator()(bool a) const { return !a; }
};

// ---- bitwise -------------------------------------------------------------------------------------

struct BitwiseAndOp {
    template <typename T>
    T operator()(T a, T b) const {
        return static_cast<T>(a & b);
    }
};
struct BitwiseOrOp {
    template <typename T>
    T operator()(T a, T b) const {
        return static_cast<T>(a | b);
    }
};
struct BitwiseXorOp {
    template <typename T>
    T operator()(T a, T b) const {
        return static_cast<T>(a ^ b);
    }
};
struct BitwiseNotOp {
    template <typename T>
    T operator()(T a) const {
        return static_cast<T>(~a);
    }
};

/// ONNX BitShift (common/element_rules.h: shiftLeft, shiftRight).
struct ShiftLeftOp {
    template <typename T>
    T operator()(T x, T amount) const {
        return shiftLeft(x, amount);
    }
};

struct ShiftRightOp {
    template <typename T>
    T operator()(T x, T amount) const {
        return shiftRight(x, amount);
    }
};

// ---- unary math ----------------------------------------------------------------------------------

struct NegOp {
    template <typename T>
    T operator()(T x) const {
        if constexpr (std::is_integral_v<T>)
            return wrapNeg(x);
        else
            return -x;
    }
};

struct AbsOp {
    template <typename T>
    T operator()(T x) const {
        if constexpr (std::is_unsigned_v<T>)
            return x;
        else if constexpr (std::is_integral_v<T>)
            return x < 0 ? wrapNeg(x) : x;
        else
            return std::fabs(x);
    }
};

/// -1, 0 or 1; NaN stays NaN.
struct SignOp {
    template <typename T>
    T operator()(T x) const {
        if constexpr (std::is_unsigned_v<T>)
            return x > 0 ? T{1} : T{0};
        else if constexpr (std::is_integral_v<T>)
            return static_cast<T>((x > 0) - (x < 0));
        else
            return x > 0 ? T{1} : (x < 0 ? T{-1} : x);
    }
};

#define KILN_FLOAT_UNARY_OP(Name, expr) \
    struct Name {                       \
        template <typename T>           \
        T operator()(T x) const {       \
            return expr;                \
        }                               \
    }
KILN_FLOAT_UNARY_OP(SqrtOp, std::sqrt(x));
KILN_FLOAT_UNARY_OP(ReciprocalOp, T{1} / x);
KILN_FLOAT_UNARY_OP(ExpOp, expOf(x));
KILN_FLOAT_UNARY_OP(LogOp, std::log(x));
KILN_FLOAT_UNARY_OP(CeilOp, std::ceil(x));
KILN_FLOAT_UNARY_OP(FloorOp, std::floor(x));
KILN_FLOAT_UNARY_OP(RoundOp, std::nearbyint(x));  // the default rounding mode: halves to even
KILN_FLOAT_UNARY_OP(ErfOp, erfOf(x));
KILN_FLOAT_UNARY_OP(SinOp, std::sin(x));
KILN_FLOAT_UNARY_OP(CosOp, std::cos(x));
KILN_FLOAT_UNARY_OP(TanOp, std::tan(x));
KILN_FLOAT_UNARY_OP(AsinOp, std::asin(x));
KILN_FLOAT_UNARY_OP(AcosOp, std::acos(x));
KILN_FLOAT_UNARY_OP(AtanOp, std::atan(x));
KILN_FLOAT_UNARY_OP(SinhOp, std::sinh(x));
KILN_FLOAT_UNARY_OP(CoshOp, std::cosh(x));
KILN_FLOAT_UNARY_OP(AsinhOp, std::asinh(x));
KILN_FLOAT_UNARY_OP(AcoshOp, std::acosh(x));
KILN_FLOAT_UNARY_OP(AtanhOp, std::atanh(x));
KILN_FLOAT_UNARY_OP(SquareOp, x* x);  // Pow's fast path for an exponent of 2
#undef KILN_FLOAT_UNARY_OP

struct IsNaNOp : PredicateOp {
    template <typename T>
    bool operator()(T x) const {
        return std::isnan(x);
    }
};

struct IsInfOp : PredicateOp {
    bool detectNegative{true};
    bool detectPositive{true};
    template <typename T>
    bool operator()(T x) const {
        return std::isinf(x) && (x > 0 ? detectPositive : detectNegative);
    }
};

/// x * factor (Mean's final division by the input count).
struct ScaleOp {
    double factor{1.0};
    template <typename T>
    T operator()(T x) const {
        return x * static_cast<T>(factor);
    }
};

}  // namespace kiln::cpu
