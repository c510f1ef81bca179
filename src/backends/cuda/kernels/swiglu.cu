// SwiGLU: y = a * sigmoid(alpha * a) * b over two tensors of one shape (the shared binary map of
// binary_map.cuh, which also takes broadcasting shapes), on float, float16, bfloat16 and double,
// computed as the CPU backend does (backends/cpu/kernels/swiglu.cpp): in Compute<T>, one rounding.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/kernels/binary_map.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

struct SwiGLUFn {
    float alpha{1.0f};
    template <typename C>
    __device__ C operator()(C a, C b) const {
        // The CPU's SigmoidOp: exp of a non-positive number only, so nothing overflows.
        const C x = static_cast<C>(alpha) * a;
        const C e = expOf(-fabsOf(x));
        const C r = C{1} / (C{1} + e);
        return a * (x >= C{0} ? r : e * r) * b;
    }
};

}  // namespace

void registerSwiGLUKernels(CudaKernelRegistry& registry) {
    registry.add({"SwiGLU", &binaryInputsIn<FloatTypes>,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      const DataType type = node.input(0)->dtype;
                      return std::unique_ptr<Kernel>(std::make_unique<BinaryMapKernel<SwiGLUFn, FloatTypes>>(
                          std::string("cuda.swiglu_") + tacticTypeSuffix(type), type,
                          SwiGLUFn{node.attrs.getFloat("alpha", 1.0f)}));
                  }});
}

}  // namespace kiln::cuda
