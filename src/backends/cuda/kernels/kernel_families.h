#pragma once
// One registration function per CUDA kernel family (src/backends/cuda/kernels/<family>.cu).

namespace kiln::cuda {

class CudaKernelRegistry;

void registerElementwiseKernels(CudaKernelRegistry& registry);  // Add Sub Mul Div Pow, Exp Neg Abs Sqrt Erf ...
void registerActivationKernels(CudaKernelRegistry& registry);   // Relu Sigmoid Tanh
void registerMatMulKernels(CudaKernelRegistry& registry);       // MatMul kiln::FusedMatMul Gemm (cuBLASLt)
void registerExpandKernels(CudaKernelRegistry& registry);       // Expand (broadcast copy)
void registerConvKernels(CudaKernelRegistry& registry);         // Conv, kiln::FusedConv (cuDNN)
void registerPoolingKernels(CudaKernelRegistry& registry);      // MaxPool AveragePool LpPool GlobalAveragePool
void registerShapeKernels(CudaKernelRegistry& registry);        // Reshape Flatten Squeeze Unsqueeze Identity Shape
void registerLayoutKernels(CudaKernelRegistry& registry);       // Transpose Slice Gather Concat Split
void registerSelectCastKernels(CudaKernelRegistry& registry);   // Cast Equal Less Greater Where
void registerNormalizationKernels(CudaKernelRegistry& registry);  // LayerNormalization
void registerReductionKernels(CudaKernelRegistry& registry);    // ReduceMean ReduceSum ReduceMax ReduceMin
void registerSoftmaxKernels(CudaKernelRegistry& registry);      // Softmax LogSoftmax Hardmax
void registerArgReduceKernels(CudaKernelRegistry& registry);    // ArgMax ArgMin
void registerPadKernels(CudaKernelRegistry& registry);          // Pad
void registerScatterGatherKernels(CudaKernelRegistry& registry);  // GatherElements ScatterElements ScatterND
void registerCumulativeKernels(CudaKernelRegistry& registry);   // CumSum CumProd
void registerDropoutKernels(CudaKernelRegistry& registry);      // Dropout (inference)
void registerLossKernels(CudaKernelRegistry& registry);         // NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss
void registerAttentionKernels(CudaKernelRegistry& registry);    // Attention
void registerFusedPointwiseKernels(CudaKernelRegistry& registry);  // kiln::FusedPointwise

}  // namespace kiln::cuda
