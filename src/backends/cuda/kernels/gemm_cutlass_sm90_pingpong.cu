// The ping-pong CUTLASS sm_90a GEMM configurations with the activation read at run time
// (gemm_cutlass_sm90_configs.h): each consumer warp group computes a tile of its own, so one group's
// epilogue runs while the other's wgmma mainloop keeps the tensor cores busy. Each entry is two kernel
// instantiations (float16, bfloat16), about a minute of a CI core's compiler, so only configurations
// that won a timed layer are kept.

#include "backends/cuda/kernels/gemm_cutlass_sm90_kernel.cuh"

namespace kiln::cuda {

std::vector<CutlassCompiledConfig> cutlassPingpongConfigs() {
#if KILN_CUTLASS_SM90_KERNELS
    using namespace cutlass_sm90;
    // Ids are never reused: engines store them. Timed on an H200 against cuBLASLt and six other tiles
    // and clusters (docs/BENCHMARKS-2026-12-03.md, 14:41): this tile won BERT-base batch 128's attention-output and
    // FFN-output products (bias and residual fused) by 5-6 %. Id 1 serves the activations without a
    // compiled configuration (ReLU, Clip, ...); the identity and GELU products take ids 2 and 3.
    return {compiled<128, 128, 64, 1, 1, Pingpong, 64, 64, CutlassEpilogueActivation::kAtRunTime, true>(1)};
#else
    return {};
#endif
}

}  // namespace kiln::cuda
