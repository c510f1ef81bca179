#pragma once
// One registration function per CUDA kernel family (src/backends/cuda/kernels/<family>.cu).

namespace kiln::cuda {

class CudaKernelRegistry;

void registerElementwiseKernels(CudaKernelRegistry& registry);  // Add Sub Mul Div Mod Pow Max Min Sum Mean
void registerElementwiseUnaryKernels(CudaKernelRegistry& registry);  // Neg Abs Sign Sqrt Exp ... Gelu IsNaN IsInf
void registerElementwiseLogicKernels(CudaKernelRegistry& registry);  // comparisons, And Or Xor Not, bitwise, BitShift
void registerClipShrinkKernels(CudaKernelRegistry& registry);   // Clip Shrink
void registerRangeTriluKernels(CudaKernelRegistry& registry);   // Range Trilu
void registerFillKernels(CudaKernelRegistry& registry);         // ConstantOfShape EyeLike Size
void registerCopyKernels(CudaKernelRegistry& registry);         // BitCast (a byte copy)
void registerActivationKernels(CudaKernelRegistry& registry);   // Relu Sigmoid Tanh
void registerActivationPointwiseKernels(CudaKernelRegistry& registry);  // LeakyRelu Elu Selu ... PRelu
void registerMatMulKernels(CudaKernelRegistry& registry);       // MatMul kiln::FusedMatMul Gemm (cuBLASLt)
void registerExpandKernels(CudaKernelRegistry& registry);       // Expand (broadcast copy)
void registerConvKernels(CudaKernelRegistry& registry);         // Conv, kiln::FusedConv (cuDNN)
void registerPoolingKernels(CudaKernelRegistry& registry);      // MaxPool AveragePool LpPool GlobalAveragePool
void registerShapeKernels(CudaKernelRegistry& registry);        // Reshape Flatten Squeeze Unsqueeze Identity Shape
void registerLayoutKernels(CudaKernelRegistry& registry);       // Transpose Slice Gather Concat Split
void registerSelectCastKernels(CudaKernelRegistry& registry);   // Cast CastLike Where
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
void registerQuantizeLinearKernels(CudaKernelRegistry& registry);  // QuantizeLinear DequantizeLinear DynamicQuantizeLinear
void registerQuantizedIntegerKernels(CudaKernelRegistry& registry);  // MatMulInteger QLinearMatMul ConvInteger QLinearConv

}  // namespace kiln::cuda
