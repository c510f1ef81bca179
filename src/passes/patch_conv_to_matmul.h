#pragma once
#include "passes/pass.h"

namespace kiln {

/// Patch-embedding convolutions as a GEMM (ViT, DeiT, Swin, CLIP, the ConvNeXt stem): a Conv over an
/// image's few channels (at most 4) whose kernel equals its stride, without padding, dilation or groups,
/// reads each input pixel once, so it is exactly a MatMul of the input's patches with the flattened
/// weights:
///   X [N, C, H, W] -> Reshape [N, C, h, kh, w, kw] -> Transpose [N, h, w, C, kh, kw]
///   -> Reshape [N, h*w, C*kh*kw] -> MatMul W' [C*kh*kw, K] (+ B) -> Reshape [N, h, w, K]
///   -> Transpose [N, K, h, w]
/// with W' the weights transposed at build time. Convolution kernels handle such a layer poorly
/// (few input channels, no window overlap: 25x the GEMM's time on an H200 for ViT-B/16), while the
/// GEMM runs at full rate and matmul fusion takes the bias into its epilogue.
class PatchConvToMatMul : public Pass {
public:
    const char* name() const override { return "patch-conv-to-matmul"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;
};

}  // namespace kiln
