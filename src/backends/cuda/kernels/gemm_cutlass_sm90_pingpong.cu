// The ping-pong CUTLASS sm_90a GEMM configurations (gemm_cutlass_sm90_configs.h): each consumer warp
// group computes a tile of its own, so one group's epilogue (an exact GELU's erf over the whole tile)
// runs while the other's wgmma mainloop keeps the tensor cores busy. Each entry is two kernel
// instantiations (float16, bfloat16), about a minute of a CI core's compiler.

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
    // Ids are never reused: engines store them.
    return {
        compiled<128, 128, 64, 1, 1, Pingpong>(2),
        compiled<64, 256, 64, 1, 1, Pingpong>(4),
        compiled<128, 128, 64, 2, 1, Pingpong>(5),
        compiled<64, 256, 64, 2, 1, Pingpong>(6),
        compiled<128, 128, 64, 1, 2, Pingpong>(7),
        compiled<128, 128, 64, 1, 1, Pingpong, 64, 64>(8),
        compiled<64, 256, 64, 1, 1, Pingpong, 64, 64>(9),
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
