// Pointwise activations with the CPU backend's formulas (backends/cpu/kernels/
// elementwise_activation_math.h): LeakyRelu Elu Selu Celu HardSigmoid HardSwish Softplus Softsign Mish
// Swish ThresholdedRelu on float, float16, bfloat16 and double, and PRelu (a broadcast slope) on its
// CPU types. Attributes are functor members, copied from the node. (Relu Sigmoid Tanh are in
// activation.cu, with Softmax.)

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/kernels/binary_map.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"

namespace kiln::cuda {

namespace {

struct LeakyReluFn {
    float alpha{0.01f};
    template <typename C>
    __device__ C operator()(C x) const {
        return x < C{0} ? static_cast<C>(alpha) * x : x;
    }
};

struct PReluFn {
    template <typename C>
    __device__ C operator()(C x, C slope) const {
        if constexpr (std::is_unsigned_v<C>)
            return x;
        else if constexpr (std::is_integral_v<C>)
            return x < 0 ? wrapMul(slope, x) : x;
        else
            return x < C{0} ? slope * x : x;
    }
};

struct EluFn {
    float alpha{1.0f};
    template <typename C>
    __device__ C operator()(C x) const {
        return x < C{0} ? static_cast<C>(alpha) * expm1Of(x) : x;
    }
};

struct SeluFn {
    float alpha{1.67326319217681884765625f};
    float gamma{1.05070102214813232421875f};
    template <typename C>
    __device__ C operator()(C x) const {
        return static_cast<C>(gamma) * (x > C{0} ? x : static_cast<C>(alpha) * expm1Of(x));
    }
};

struct CeluFn {
    float alpha{1.0f};
    template <typename C>
    __device__ C operator()(C x) const {
        const C a = static_cast<C>(alpha);
        const C negative = a * expm1Of(x / a);
        return (x > C{0} ? x : C{0}) + (negative < C{0} ? negative : C{0});
    }
};

/// exp of a non-positive number only: no overflow, full relative accuracy for very negative x.
struct SigmoidFn {
    template <typename C>
    __device__ C operator()(C x) const {
        const C e = expOf(-fabsOf(x));
        const C r = C{1} / (C{1} + e);
        return x >= C{0} ? r : e * r;
    }
};

struct HardSigmoidFn {
    float alpha{0.2f};
    float beta{0.5f};
    template <typename C>
    __device__ C operator()(C x) const {
        const C y = static_cast<C>(alpha) * x + static_cast<C>(beta);
        return y < C{0} ? C{0} : (y > C{1} ? C{1} : y);
    }
};

struct HardSwishFn {
    template <typename C>
    __device__ C operator()(C x) const {
        const C y = x * static_cast<C>(1.0 / 6.0) + static_cast<C>(0.5);
        return x * (y < C{0} ? C{0} : (y > C{1} ? C{1} : y));
    }
};

/// log(1 + exp(x)) without overflow for large x.
struct SoftplusFn {
    template <typename C>
    __device__ C operator()(C x) const {
        return x > C{0} ? x + log1pOf(expOf(-x)) : log1pOf(expOf(x));
    }
};

struct SoftsignFn {
    template <typename C>
    __device__ C operator()(C x) const {
        return x / (C{1} + fabsOf(x));
    }
};

struct SwishFn {
    float alpha{1.0f};
    template <typename C>
    __device__ C operator()(C x) const {
        return x * SigmoidFn{}(static_cast<C>(alpha) * x);
    }
};

struct MishFn {
    template <typename C>
    __device__ C operator()(C x) const {
        return x * tanhOf(SoftplusFn{}(x));
    }
};

struct ThresholdedReluFn {
    float alpha{1.0f};
    template <typename C>
    __device__ C operator()(C x) const {
        return x > static_cast<C>(alpha) ? x : C{0};
    }
};

using PReluTypes = DeviceTypes<float, double, __half, __nv_bfloat16, int32_t, int64_t, uint32_t, uint64_t>;

}  // namespace

void registerActivationPointwiseKernels(CudaKernelRegistry& registry) {
    registerUnaryKernel<HardSwishFn, FloatTypes>(registry, "HardSwish", "hard_swish");
    registerUnaryKernel<SoftplusFn, FloatTypes>(registry, "Softplus", "softplus");
    registerUnaryKernel<SoftsignFn, FloatTypes>(registry, "Softsign", "softsign");
    registerUnaryKernel<MishFn, FloatTypes>(registry, "Mish", "mish");
    registerUnaryKernel<LeakyReluFn, FloatTypes>(registry, "LeakyRelu", "leaky_relu", [](const Node& node) {
        return LeakyReluFn{node.attrs.getFloat("alpha", 0.01f)};
    });
    registerUnaryKernel<EluFn, FloatTypes>(registry, "Elu", "elu", [](const Node& node) {
        return EluFn{node.attrs.getFloat("alpha", 1.0f)};
    });
    registerUnaryKernel<SeluFn, FloatTypes>(registry, "Selu", "selu", [](const Node& node) {
        SeluFn fn;
        fn.alpha = node.attrs.getFloat("alpha", fn.alpha);
        fn.gamma = node.attrs.getFloat("gamma", fn.gamma);
        return fn;
    });
    // alpha = 0 is refused by inference (the CPU kernel refuses it too); the functor divides by it.
    registerUnaryKernel<CeluFn, FloatTypes>(registry, "Celu", "celu", [](const Node& node) {
        return CeluFn{node.attrs.getFloat("alpha", 1.0f)};
    });
    registerUnaryKernel<HardSigmoidFn, FloatTypes>(registry, "HardSigmoid", "hard_sigmoid", [](const Node& node) {
        return HardSigmoidFn{node.attrs.getFloat("alpha", 0.2f), node.attrs.getFloat("beta", 0.5f)};
    });
    registerUnaryKernel<SwishFn, FloatTypes>(registry, "Swish", "swish", [](const Node& node) {
        return SwishFn{node.attrs.getFloat("alpha", 1.0f)};
    });
    registerUnaryKernel<ThresholdedReluFn, FloatTypes>(registry, "ThresholdedRelu", "thresholded_relu",
                                                       [](const Node& node) {
                                                           return ThresholdedReluFn{node.attrs.getFloat("alpha", 1.0f)};
                                                       });
    registerBinaryKernel<PReluFn, PReluTypes>(registry, "PRelu", "prelu");
}

}  // namespace kiln::cuda
