// Activations: Relu Sigmoid Tanh (unary maps), on float and float16 (computed in float). Softmax and its
// variants are in softmax.cu.

#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"

namespace kiln::cuda {

namespace {

struct ReluFn {
    __device__ float operator()(float x) const { return x > 0.f ? x : 0.f; }
};
struct SigmoidFn {
    __device__ float operator()(float x) const { return 1.f / (1.f + expf(-x)); }
};
struct TanhFn {
    __device__ float operator()(float x) const { return tanhf(x); }
};

}  // namespace

void registerActivationKernels(CudaKernelRegistry& registry) {
    registerUnaryKernel<ReluFn>(registry, "Relu", "relu");
    registerUnaryKernel<SigmoidFn>(registry, "Sigmoid", "sigmoid");
    registerUnaryKernel<TanhFn>(registry, "Tanh", "tanh");
}

}  // namespace kiln::cuda
