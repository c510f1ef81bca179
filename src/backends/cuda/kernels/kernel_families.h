#pragma once
// One registration function per CUDA kernel family (src/backends/cuda/kernels/<family>.cu).

namespace kiln::cuda {

class CudaKernelRegistry;

void registerElementwiseKernels(CudaKernelRegistry& registry);  // Add Sub Mul Div, Exp Neg Abs Sqrt
void registerActivationKernels(CudaKernelRegistry& registry);   // Relu Sigmoid Tanh Softmax
void registerMatMulKernels(CudaKernelRegistry& registry);       // MatMul Gemm (cuBLASLt)
void registerExpandKernels(CudaKernelRegistry& registry);       // Expand (broadcast copy)

}  // namespace kiln::cuda
