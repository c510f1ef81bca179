#pragma once
// One registration function per CPU kernel family (src/backends/cpu/kernels/<family>.cpp).

namespace kiln {

class CpuKernelRegistry;

void registerElementwiseKernels(CpuKernelRegistry& registry);
void registerActivationKernels(CpuKernelRegistry& registry);
void registerMatMulKernels(CpuKernelRegistry& registry);
void registerDeterminantKernels(CpuKernelRegistry& registry);  // Det (called by registerMatMulKernels)
void registerConvKernels(CpuKernelRegistry& registry);
void registerPoolingKernels(CpuKernelRegistry& registry);
void registerNormalizationKernels(CpuKernelRegistry& registry);
void registerReductionKernels(CpuKernelRegistry& registry);
void registerShapeKernels(CpuKernelRegistry& registry);
void registerTensorKernels(CpuKernelRegistry& registry);
void registerAttentionKernels(CpuKernelRegistry& registry);
void registerRotaryEmbeddingKernels(CpuKernelRegistry& registry);
void registerRecurrentKernels(CpuKernelRegistry& registry);
void registerControlFlowKernels(CpuKernelRegistry& registry);
void registerSequenceKernels(CpuKernelRegistry& registry);  // Sequence* SplitToSequence ConcatFromSequence SequenceMap Optional*
void registerFusedKernels(CpuKernelRegistry& registry);
void registerFusedPointwiseKernels(CpuKernelRegistry& registry);
void registerQuantizationKernels(CpuKernelRegistry& registry);  // QuantizeLinear DequantizeLinear DynamicQuantizeLinear MatMulInteger ConvInteger QLinearMatMul QLinearConv
void registerEinsumKernels(CpuKernelRegistry& registry);  // Einsum
void registerResizeKernels(CpuKernelRegistry& registry);  // Resize
void registerImageKernels(CpuKernelRegistry& registry);  // LRN GridSample AffineGrid RoiAlign Col2Im CenterCropPad ImageDecoder
void registerSignalKernels(CpuKernelRegistry& registry);  // DFT STFT MelWeightMatrix HannWindow HammingWindow BlackmanWindow
void registerRandomKernels(CpuKernelRegistry& registry);  // RandomUniform RandomNormal RandomUniformLike RandomNormalLike Bernoulli
void registerSelectionKernels(CpuKernelRegistry& registry);  // NonZero Compress Unique TopK NonMaxSuppression
void registerLossKernels(CpuKernelRegistry& registry);  // NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss
void registerSwiGLUKernels(CpuKernelRegistry& registry);  // SwiGLU
void registerTensorScatterKernels(CpuKernelRegistry& registry);  // TensorScatter (KV-cache update)
void registerCausalConvWithStateKernels(CpuKernelRegistry& registry);  // CausalConvWithState
void registerLinearAttentionKernels(CpuKernelRegistry& registry);  // LinearAttention
void registerFlexAttentionKernels(CpuKernelRegistry& registry);  // ai.onnx.preview::FlexAttention
void registerStringKernels(CpuKernelRegistry& registry);  // Cast/Equal on strings, StringNormalizer StringConcat StringSplit RegexFullMatch LabelEncoder
void registerMlKernels(CpuKernelRegistry& registry);  // ai.onnx.ml TreeEnsemble ArrayFeatureExtractor Binarizer; TfIdfVectorizer

}  // namespace kiln
