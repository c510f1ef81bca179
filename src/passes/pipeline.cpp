#include "passes/pipeline.h"

#include "passes/attention_batch_first_output.h"
#include "passes/attention_fusion.h"
#include "passes/attention_head_layout.h"
#include "passes/attention_strided_inputs.h"
#include "passes/batchnorm_folding.h"
#include "passes/constant_folding.h"
#include "passes/conv_fusion.h"
#include "passes/dead_layer_elimination.h"
#include "passes/gelu_fusion.h"
#include "passes/gemm_to_matmul.h"
#include "passes/horizontal_fusion.h"
#include "passes/identity_elimination.h"
#include "passes/layer_norm_fusion.h"
#include "passes/layout_cancellation.h"
#include "passes/matmul_fusion.h"
#include "passes/patch_conv_to_matmul.h"
#include "passes/pointwise_fusion.h"
#include "passes/repeated_gather_indices.h"
#include "passes/residual_through_reshape.h"
#include "passes/rms_norm_fusion.h"
#include "passes/shape_folding.h"

namespace kiln {

PassManager defaultPipeline() {
    PassManager pm;
    // 1. Shape folding first: it turns every static shape computation into constants, so the
    //    passes after it see constant Reshape/Expand targets and static shapes everywhere; with a
    //    dynamic batch it still folds the static extents read off a shape (a head size for a scale).
    pm.add(std::make_unique<ShapeFolding>());
    // 2. Constant folding next: weight-only subgraphs (transposed or cast weights) become plain
    //    constants, which BatchNorm folding and the fusions need.
    pm.add(std::make_unique<ConstantFolding>());
    // 3. No-op removal after folding: static shapes reveal Reshapes and Casts that do nothing,
    //    and removing them (and inference Dropouts) puts fusable layers next to each other.
    pm.add(std::make_unique<IdentityElimination>());
    // 3b. Patch-embedding convolutions (kernel == stride) become Reshape / Transpose / MatMul once
    //    their weights are constants (after 2); before layout cancellation, which then removes the
    //    Transpose back to NCHW where the model transposes straight to channels-last (ConvNeXt's
    //    LayerNorm), and before matmul fusion, which takes the bias Add.
    pm.add(std::make_unique<PatchConvToMatMul>());
    // 3c. Gemms with constant weights become MatMul (+ Add) once those weights are constants (after 2),
    //    so matmul fusion (10) gives them a product's epilogue and tactics, and horizontal fusion (12)
    //    can merge them with sibling projections.
    pm.add(std::make_unique<GemmToMatMul>());
    // 3d. A Gather of constant rows by repeated constant indices (token types, position ids over the
    //    batch) gathers them once, and the Add reading it broadcasts them (before pointwise fusion
    //    takes that Add into a chain).
    pm.add(std::make_unique<RepeatedGatherIndices>());
    // 4. Transpose / reshape cancellation before the pattern fusions, which expect one Transpose
    //    (attention's K^T) rather than a chain.
    pm.add(std::make_unique<LayoutCancellation>());
    // 5. BatchNorm folding needs constant Conv weights (after 2) and a direct Conv -> BN edge.
    pm.add(std::make_unique<BatchNormFolding>());
    // 6-8. Pattern fusions into ONNX ops backends implement directly. GELU before LayerNorm and
    //    attention only because it is independent; all three precede the vertical fusions, which
    //    would otherwise swallow their first layer (an Add or MatMul) into a fused GEMM.
    pm.add(std::make_unique<GeluFusion>());
    pm.add(std::make_unique<LayerNormFusion>());
    pm.add(std::make_unique<RmsNormFusion>());
    pm.add(std::make_unique<AttentionFusion>());
    // 8b. Attention's head splits and merges (Reshape + Transpose around it) go once it is one layer.
    pm.add(std::make_unique<AttentionHeadLayout>());
    // 9-10. Vertical fusion of Conv / MatMul with bias, residual and activation (after BN folding,
    //    so Conv -> BN -> Relu is Conv -> Relu by now; after GELU fusion, so GELU can be absorbed).
    pm.add(std::make_unique<ConvFusion>());
    pm.add(std::make_unique<MatMulFusion>());
    // 11. Pointwise chains after the vertical fusions, which take the activations and bias Adds
    //    that directly follow a Conv or GEMM into its epilogue (cheaper than a separate pass over
    //    the result); what remains (scales, masks, activation chains) becomes one layer per chain.
    pm.add(std::make_unique<PointwiseFusion>());
    // 12. Horizontal fusion after vertical fusion, so sibling projections with their biases
    //    (FusedMatMul) merge into one GEMM with one epilogue.
    pm.add(std::make_unique<HorizontalFusion>());
    // 12b. Attention reads Q, K and V by strides from what they were copied out of (after horizontal
    //    fusion, whose packed projection's Split is one such copy); the copies become dead layers.
    pm.add(std::make_unique<AttentionStridedInputs>());
    // 12c. Its output then has the layout Kiln chooses: batch-first rows for a sequence-first projection.
    pm.add(std::make_unique<AttentionBatchFirstOutput>());
    // 12d. That projection's residual Add, now behind one Reshape, goes into its epilogue.
    pm.add(std::make_unique<ResidualThroughReshape>());
    // 13. Dead-layer elimination last: it removes what the rewrites above left unread.
    pm.add(std::make_unique<DeadLayerElimination>());
    // After this pipeline the builder runs the passes that depend on the target (engine_builder.cpp):
    // PrecisionAssignment (--fp16 / --bf16 on CUDA), then ChannelsLastLayout on the FP16 / BF16
    // convolutions it leaves (NHWC regions for cuDNN's tensor cores), with its own cleanup.
    return pm;
}

}  // namespace kiln
