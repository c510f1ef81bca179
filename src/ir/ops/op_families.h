#pragma once
// One registration function per op family (src/ir/ops/<family>.cpp).

namespace kiln {

class OpRegistry;

void registerElementwiseOps(OpRegistry& registry);    // Add Sub Mul Div Pow, comparisons, logic, Where, Cast, unary math
void registerActivationOps(OpRegistry& registry);     // Relu Sigmoid Tanh Clip Gelu LeakyRelu HardSwish Softmax ...
void registerMatMulOps(OpRegistry& registry);         // MatMul Gemm
void registerConvOps(OpRegistry& registry);           // Conv ConvTranspose
void registerPoolingOps(OpRegistry& registry);        // MaxPool AveragePool GlobalAveragePool GlobalMaxPool kiln::ChannelsLastPool
void registerNormalizationOps(OpRegistry& registry);  // BatchNormalization LayerNormalization InstanceNormalization
void registerReductionOps(OpRegistry& registry);      // ReduceMean ReduceSum ... ArgMax ArgMin
void registerShapeOps(OpRegistry& registry);          // Shape Size Reshape Flatten Squeeze Unsqueeze Expand ...
void registerTensorOps(OpRegistry& registry);         // Concat Split Slice Gather Transpose Pad Tile Identity ...
void registerAttentionOps(OpRegistry& registry);      // Attention (scaled dot-product attention)
void registerRotaryEmbeddingOps(OpRegistry& registry);  // RotaryEmbedding
void registerRecurrentOps(OpRegistry& registry);     // RNN GRU LSTM
void registerControlFlowOps(OpRegistry& registry);   // If Loop Scan
void registerSequenceOps(OpRegistry& registry);      // Sequence* SplitToSequence ConcatFromSequence Optional*
void registerFusedOps(OpRegistry& registry);          // kiln::FusedConv, kiln::FusedMatMul: layers the builder fuses
void registerQuantizationOps(OpRegistry& registry);   // QuantizeLinear DequantizeLinear DynamicQuantizeLinear MatMulInteger ConvInteger QLinearMatMul QLinearConv
void registerEinsumOps(OpRegistry& registry);         // Einsum
void registerResizeOps(OpRegistry& registry);         // Resize (Upsample is upgraded to it)
void registerImageOps(OpRegistry& registry);          // LRN GridSample AffineGrid RoiAlign Col2Im CenterCropPad
void registerSignalOps(OpRegistry& registry);         // DFT STFT MelWeightMatrix HannWindow HammingWindow BlackmanWindow
void registerRandomOps(OpRegistry& registry);         // RandomUniform RandomNormal RandomUniformLike RandomNormalLike Bernoulli
void registerSelectionOps(OpRegistry& registry);      // NonZero Compress Unique TopK NonMaxSuppression (data-dependent shapes)
void registerLossOps(OpRegistry& registry);           // NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss
void registerSwiGLUOps(OpRegistry& registry);         // SwiGLU
void registerTensorScatterOps(OpRegistry& registry);  // TensorScatter (KV-cache update)
void registerCausalConvWithStateOps(OpRegistry& registry);  // CausalConvWithState
void registerLinearAttentionOps(OpRegistry& registry);      // LinearAttention
void registerFlexAttentionOps(OpRegistry& registry);        // ai.onnx.preview::FlexAttention
void registerPluginOps(OpRegistry& registry);               // kiln.plugin::*, rules from the plugins (src/plugins)
void registerStringOps(OpRegistry& registry);         // StringNormalizer StringConcat StringSplit RegexFullMatch; ai.onnx.ml LabelEncoder
void registerMlOps(OpRegistry& registry);             // ai.onnx.ml TreeEnsemble ArrayFeatureExtractor Binarizer; TfIdfVectorizer

}  // namespace kiln
