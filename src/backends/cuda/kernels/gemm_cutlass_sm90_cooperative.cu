// The cooperative CUTLASS sm_90a GEMM configurations (gemm_cutlass_sm90_configs.h): both consumer warp
// groups share one large output tile, alone or in 2x1 clusters that share each B tile (TMA multicast);
// the epilogue follows the mainloop. Each entry is two kernel instantiations (float16, bfloat16), about a
// minute of a CI core's compiler.

#include "backends/cuda/kernels/gemm_cutlass_sm90_configs.h"

#if defined(KILN_CUTLASS_SM90)
#include "cutlass/arch/config.h"
#endif

#if defined(KILN_CUTLASS_SM90) && defined(CUTLASS_ARCH_MMA_SM90_SUPPORTED)
#include "backends/cuda/kernels/gemm_cutlass_sm90_kernel.cuh"

namespace kiln::cuda {

std::vector<CutlassCompiledConfig> cutlassCooperativeConfigs() {
    using cutlass_sm90::compiled;
    using cutlass_sm90::Cooperative;
    // Ids are never reused: engines store them.
    return {
        compiled<128, 256, 64, 1, 1, Cooperative>(1),
        compiled<128, 256, 64, 2, 1, Cooperative>(3),
    };
}

}  // namespace kiln::cuda

#else

namespace kiln::cuda {

std::vector<CutlassCompiledConfig> cutlassCooperativeConfigs() {
    return {};
}

}  // namespace kiln::cuda

#endif
