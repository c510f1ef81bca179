// The ping-pong CUTLASS sm_90a GEMM configurations without an activation, compiled in
// (gemm_cutlass_sm90_configs.h): the products with a bias and a residual or neither (BERT's attention
// output and FFN output) need no activation switch in their epilogue. The second reads no residual: its
// epilogue is acc + bias alone (BiasActivationTree), where the first's LinComb tree weighs beta * C even at
// beta 0, about three more instructions an element, for a product without a residual (BERT's QKV
// projection); a short-K product's epilogue costs it ~2 % an instruction (docs/BENCHMARKS.md, 2026-12-04).

#include "backends/cuda/kernels/gemm_cutlass_sm90_kernel.cuh"

namespace kiln::cuda {

std::vector<CutlassCompiledConfig> cutlassPingpongIdentityConfigs() {
#if KILN_CUTLASS_SM90_KERNELS
    using namespace cutlass_sm90;
    return {compiled<128, 128, 64, 1, 1, Pingpong, 64, 64, CutlassEpilogueActivation::kIdentity, true>(2),
            compiled<128, 128, 64, 1, 1, Pingpong, 64, 64, CutlassEpilogueActivation::kIdentity, false>(4)};
#else
    return {};
#endif
}

}  // namespace kiln::cuda
