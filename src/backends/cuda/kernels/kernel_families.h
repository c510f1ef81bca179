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
void registerChannelsLastPoolKernels(CudaKernelRegistry& registry);  // kiln::ChannelsLastPool (NHWC MaxPool / AveragePool)
void registerShapeKernels(CudaKernelRegistry& registry);        // Reshape Flatten Squeeze Unsqueeze Identity Shape
void registerLayoutKernels(CudaKernelRegistry& registry);       // Transpose Slice Gather Concat Split
void registerSelectCastKernels(CudaKernelRegistry& registry);   // Cast CastLike Where
void registerNormalizationKernels(CudaKernelRegistry& registry);  // LayerNormalization RMSNormalization
void registerChannelNormalizationKernels(CudaKernelRegistry& registry);  // BatchNormalization Instance- GroupNorm. MVN LpNorm. LRN
void registerConvTransposeKernels(CudaKernelRegistry& registry);  // ConvTranspose (direct kernel)
void registerDeformConvKernels(CudaKernelRegistry& registry);   // DeformConv
void registerEinsumKernels(CudaKernelRegistry& registry);       // Einsum
void registerDeterminantKernels(CudaKernelRegistry& registry);  // Det
void registerReductionKernels(CudaKernelRegistry& registry);    // ReduceMean ReduceSum ReduceMax ReduceMin
void registerSoftmaxKernels(CudaKernelRegistry& registry);      // Softmax LogSoftmax Hardmax
void registerArgReduceKernels(CudaKernelRegistry& registry);    // ArgMax ArgMin
void registerPadKernels(CudaKernelRegistry& registry);          // Pad
void registerScatterGatherKernels(CudaKernelRegistry& registry);  // GatherElements ScatterElements ScatterND
void registerCumulativeKernels(CudaKernelRegistry& registry);   // CumSum CumProd
void registerDropoutKernels(CudaKernelRegistry& registry);      // Dropout (inference and training mode)
void registerLossKernels(CudaKernelRegistry& registry);         // NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss
void registerAttentionKernels(CudaKernelRegistry& registry);    // Attention (KV cache, masks, windows; cuDNN SDPA)
void registerRotaryEmbeddingKernels(CudaKernelRegistry& registry);  // RotaryEmbedding
void registerSwiGLUKernels(CudaKernelRegistry& registry);       // SwiGLU
void registerTensorScatterKernels(CudaKernelRegistry& registry);  // TensorScatter (KV-cache write)
void registerLinearAttentionKernels(CudaKernelRegistry& registry);  // LinearAttention
void registerCausalConvWithStateKernels(CudaKernelRegistry& registry);  // CausalConvWithState
void registerFusedPointwiseKernels(CudaKernelRegistry& registry);  // kiln::FusedPointwise
void registerResizeKernels(CudaKernelRegistry& registry);       // Resize
void registerGridSampleKernels(CudaKernelRegistry& registry);   // GridSample AffineGrid
void registerSpatialLayoutKernels(CudaKernelRegistry& registry);  // DepthToSpace SpaceToDepth Tile CenterCropPad ReverseSequence
void registerIndexingNdKernels(CudaKernelRegistry& registry);   // GatherND OneHot MaxUnpool Compress
void registerImageGeometryKernels(CudaKernelRegistry& registry);  // RoiAlign Col2Im
void registerTopKKernels(CudaKernelRegistry& registry);         // TopK
void registerValueDependentKernels(CudaKernelRegistry& registry);  // NonZero Unique NonMaxSuppression (device, host for the rest)
void registerSignalKernels(CudaKernelRegistry& registry);       // DFT STFT MelWeightMatrix Hann/Hamming/BlackmanWindow
void registerRecurrentKernels(CudaKernelRegistry& registry);    // RNN GRU LSTM
void registerControlFlowKernels(CudaKernelRegistry& registry);  // If Loop Scan (subgraphs on the CUDA backend)
void registerFlexAttentionKernels(CudaKernelRegistry& registry);  // ai.onnx.preview::FlexAttention
void registerMlFeatureKernels(CudaKernelRegistry& registry);  // ai.onnx.ml Binarizer ArrayFeatureExtractor TreeEnsemble
void registerQuantizeLinearKernels(CudaKernelRegistry& registry);  // QuantizeLinear DequantizeLinear DynamicQuantizeLinear
void registerQuantizedIntegerKernels(CudaKernelRegistry& registry);  // MatMulInteger QLinearMatMul ConvInteger QLinearConv

}  // namespace kiln::cuda
