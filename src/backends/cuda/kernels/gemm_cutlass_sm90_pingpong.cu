// The ping-pong CUTLASS sm_90a GEMM configurations (gemm_cutlass_sm90_configs.h): each consumer warp
// group computes a tile of its own, so one group's epilogue runs while the other's wgmma mainloop keeps
// the tensor cores busy. Each entry is two kernel instantiations (float16, bfloat16), about a minute of
// a CI core's compiler, so only configurations that won a timed layer are kept.

#include "backends/cuda/kernels/gemm_cutlass_sm90_configs.h"

#if defined(KILN_CUTLASS_SM90)
#include "cutlass/arch/config.h"
#endif

#if defined(KILN_CUTLASS_SM90) && defined(CUTLASS_ARCH_MMA_SM90_SUPPORTED)
#include "backends/cuda/kernels/gemm_cutlass_sm90_kernel.cuh"

namespace kiln::cuda {

std::vector<CutlassCompiledConfig> cutlassPingpongConfigs() {
    using cutlass_sm90::compiled;
    using cutlass_sm90::Pingpong;
    // Ids are never reused: engines store them. Timed on an H200 against cuBLASLt and six other tiles
    // and clusters (docs/BENCHMARKS.md, 14:41): this one won BERT-base batch 128's attention-output and
    // FFN-output products (bias and residual fused) by 5-6 %; none won an exact-GELU product.
    return {
        compiled<128, 128, 64, 1, 1, Pingpong, 64, 64>(1),
    };
}

}  // namespace kiln::cuda

#else

namespace kiln::cuda {

std::vector<CutlassCompiledConfig> cutlassPingpongConfigs() {
    return {};
}

}  // namespace kiln::cuda

#endif
