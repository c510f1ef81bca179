// The ping-pong CUTLASS sm_90a GEMM configurations with the exact GELU compiled into the epilogue
// (gemm_cutlass_sm90_configs.h): a transformer's FFN1 product. Its epilogue's arithmetic (fused_activation.h's
// 16-bit GELU, uncapped for float16; 50 M GELUs at BERT-base batch 128) is what the product waits on, so the tile's
// epilogue loop carries no switch, and no residual either (an FFN1 product has none): its tree is
// act(acc + bias) alone. A GELU product with a residual takes cuBLASLt and the epilogue pass.

#include "backends/cuda/kernels/gemm_cutlass_sm90_kernel.cuh"

namespace kiln::cuda {

std::vector<CutlassCompiledConfig> cutlassPingpongGeluConfigs() {
#if KILN_CUTLASS_SM90_KERNELS
    using namespace cutlass_sm90;
    return {compiled<128, 128, 64, 1, 1, Pingpong, 64, 64, CutlassEpilogueActivation::kGelu, false>(3)};
#else
    return {};
#endif
}

}  // namespace kiln::cuda
