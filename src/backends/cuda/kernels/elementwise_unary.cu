// Unary math: Neg Abs Sign on every (signed) numeric type; Sqrt Exp Log Reciprocal Floor Ceil Round
// Erf, trigonometry and Gelu on float, float16, bfloat16 and double; the predicates IsNaN and IsInf.
// Double is computed in double, the narrow floats in float (rounded once to their type).

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"

namespace kiln::cuda {

namespace {

struct NegFn {
    template <typename C>
    __device__ C operator()(C x) const {
        if constexpr (std::is_integral_v<C>)
            return wrapNeg(x);
        else
            return -x;
    }
};

struct AbsFn {
    template <typename C>
    __device__ C operator()(C x) const {
        if constexpr (std::is_unsigned_v<C>)
            return x;
        else if constexpr (std::is_integral_v<C>)
            return x < 0 ? wrapNeg(x) : x;
        else
            return fabsOf(x);
    }
};

/// -1, 0 or 1; NaN stays NaN.
struct SignFn {
    template <typename C>
    __device__ C operator()(C x) const {
        if constexpr (std::is_unsigned_v<C>)
            return x > 0 ? C{1} : C{0};
        else if constexpr (std::is_integral_v<C>)
            return static_cast<C>((x > 0) - (x < 0));
        else
            return x > 0 ? C{1} : (x < 0 ? C{-1} : x);
    }
};

#define KILN_FLOAT_UNARY_FN(Name, expr)      \
    struct Name {                            \
        template <typename C>                \
        __device__ C operator()(C x) const { \
            return expr;                     \
        }                                    \
    }
KILN_FLOAT_UNARY_FN(SqrtFn, sqrtOf(x));
KILN_FLOAT_UNARY_FN(ReciprocalFn, C{1} / x);
KILN_FLOAT_UNARY_FN(ExpFn, expOf(x));
KILN_FLOAT_UNARY_FN(LogFn, logOf(x));
KILN_FLOAT_UNARY_FN(CeilFn, ceilOf(x));
KILN_FLOAT_UNARY_FN(FloorFn, floorOf(x));
KILN_FLOAT_UNARY_FN(RoundFn, rintOf(x));  // the default rounding mode: halves to even
KILN_FLOAT_UNARY_FN(ErfFn, erfOf(x));
KILN_FLOAT_UNARY_FN(SinFn, sinOf(x));
KILN_FLOAT_UNARY_FN(CosFn, cosOf(x));
KILN_FLOAT_UNARY_FN(TanFn, tanOf(x));
KILN_FLOAT_UNARY_FN(AsinFn, asinOf(x));
KILN_FLOAT_UNARY_FN(AcosFn, acosOf(x));
KILN_FLOAT_UNARY_FN(AtanFn, atanOf(x));
KILN_FLOAT_UNARY_FN(SinhFn, sinhOf(x));
KILN_FLOAT_UNARY_FN(CoshFn, coshOf(x));
KILN_FLOAT_UNARY_FN(AsinhFn, asinhOf(x));
KILN_FLOAT_UNARY_FN(AcoshFn, acoshOf(x));
KILN_FLOAT_UNARY_FN(AtanhFn, atanhOf(x));
// Gelu, the exact form (approximate = "none") and the tanh form.
KILN_FLOAT_UNARY_FN(GeluFn, C{0.5} * x * (C{1} + erfOf(x * C{0.70710678118654752440})));
KILN_FLOAT_UNARY_FN(GeluTanhFn,
                    C{0.5} * x * (C{1} + tanhOf(C{0.79788456080286535588} * (x + C{0.044715} * x * x * x))));
#undef KILN_FLOAT_UNARY_FN

struct IsNaNFn : PredicateFn {
    template <typename C>
    __device__ bool operator()(C x) const {
        return x != x;
    }
};

struct IsInfFn : PredicateFn {
    bool detectNegative{true};
    bool detectPositive{true};
    template <typename C>
    __device__ bool operator()(C x) const {
        return fabsOf(x) == static_cast<C>(INFINITY) && (x > 0 ? detectPositive : detectNegative);
    }
};

bool geluSupported(const Node& node, std::string* reason) {
    const std::string approximate = node.attrs.getString("approximate", "none");
    if (approximate != "none" && approximate != "tanh") {
        if (reason) *reason = "Gelu approximate='" + approximate + "' is neither 'none' nor 'tanh'";
        return false;
    }
    return inputsHaveType(node, 0, 1, FloatTypes::types(), reason);
}

Expected<std::unique_ptr<Kernel>> createGelu(const Node& node, const CudaContext&) {
    DataType type = node.input(0)->dtype;
    const std::string suffix = std::string("_") + tacticTypeSuffix(type);
    if (node.attrs.getString("approximate", "none") == "tanh")
        return std::unique_ptr<Kernel>(
            std::make_unique<UnaryMapKernel<GeluTanhFn, FloatTypes>>("cuda.gelu_tanh" + suffix, type));
    return std::unique_ptr<Kernel>(std::make_unique<UnaryMapKernel<GeluFn, FloatTypes>>("cuda.gelu" + suffix, type));
}

}  // namespace

void registerElementwiseUnaryKernels(CudaKernelRegistry& registry) {
    registerUnaryKernel<NegFn, SignedNumericTypes>(registry, "Neg", "neg");
    registerUnaryKernel<AbsFn, NumericTypes>(registry, "Abs", "abs");
    registerUnaryKernel<SignFn, NumericTypes>(registry, "Sign", "sign");

    registerUnaryKernel<SqrtFn, FloatTypes>(registry, "Sqrt", "sqrt");
    registerUnaryKernel<ReciprocalFn, FloatTypes>(registry, "Reciprocal", "reciprocal");
    registerUnaryKernel<ExpFn, FloatTypes>(registry, "Exp", "exp");
    registerUnaryKernel<LogFn, FloatTypes>(registry, "Log", "log");
    registerUnaryKernel<CeilFn, FloatTypes>(registry, "Ceil", "ceil");
    registerUnaryKernel<FloorFn, FloatTypes>(registry, "Floor", "floor");
    registerUnaryKernel<RoundFn, FloatTypes>(registry, "Round", "round");
    registerUnaryKernel<ErfFn, FloatTypes>(registry, "Erf", "erf");
    registerUnaryKernel<SinFn, FloatTypes>(registry, "Sin", "sin");
    registerUnaryKernel<CosFn, FloatTypes>(registry, "Cos", "cos");
    registerUnaryKernel<TanFn, FloatTypes>(registry, "Tan", "tan");
    registerUnaryKernel<AsinFn, FloatTypes>(registry, "Asin", "asin");
    registerUnaryKernel<AcosFn, FloatTypes>(registry, "Acos", "acos");
    registerUnaryKernel<AtanFn, FloatTypes>(registry, "Atan", "atan");
    registerUnaryKernel<SinhFn, FloatTypes>(registry, "Sinh", "sinh");
    registerUnaryKernel<CoshFn, FloatTypes>(registry, "Cosh", "cosh");
    registerUnaryKernel<AsinhFn, FloatTypes>(registry, "Asinh", "asinh");
    registerUnaryKernel<AcoshFn, FloatTypes>(registry, "Acosh", "acosh");
    registerUnaryKernel<AtanhFn, FloatTypes>(registry, "Atanh", "atanh");
    registry.add({"Gelu", geluSupported, createGelu});

    registerUnaryKernel<IsNaNFn, FloatTypes>(registry, "IsNaN", "isnan");
    registerUnaryKernel<IsInfFn, FloatTypes>(registry, "IsInf", "isinf", [](const Node& node) {
        IsInfFn fn;
        fn.detectNegative = node.attrs.getInt("detect_negative", 1) != 0;
        fn.detectPositive = node.attrs.getInt("detect_positive", 1) != 0;
        return fn;
    });
}

}  // namespace kiln::cuda
