#pragma once
// The compiled CUTLASS sm_90a GEMM configurations, as the registry in gemm_cutlass_sm90.cpp lists them:
// each is a tile shape, cluster, schedule and epilogue subtile with one kernel instantiation per element
// type. The instantiations live in one file per schedule and epilogue activation
// (gemm_cutlass_sm90_pingpong{,_identity,_gelu}.cu: ping-pong is the one schedule that won a timed layer
// so far), so a 2-core build compiles them side by side; no CUTLASS type appears here, so the registry
// compiles without the headers too.

#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "backends/cuda/kernels/gemm_cutlass_sm90.h"
#include "common/status.h"

namespace kiln::cuda {

/// What the kernels need to know of the device they run on.
struct CutlassDevice {
    int id{0};
    int smCount{0};
};

/// The entry points of one configuration for one element type.
struct CutlassTypedGemm {
    Status (*canImplement)(const CutlassGemmProblem&, const CutlassDevice&);
    size_t (*workspace)(const CutlassGemmProblem&, const CutlassDevice&);
    Status (*run)(const CutlassGemmProblem&, const CutlassDevice&, void* workspace, cudaStream_t);
};

struct CutlassCompiledConfig {
    CutlassGemmConfig config;
    CutlassTypedGemm half;
    CutlassTypedGemm bfloat;
};

/// The ping-pong configurations, each list empty without the sm_90a kernels: the run-time activation
/// (gemm_cutlass_sm90_pingpong.cu), the identity compiled in (_identity.cu), the GELU compiled in (_gelu.cu).
std::vector<CutlassCompiledConfig> cutlassPingpongConfigs();
std::vector<CutlassCompiledConfig> cutlassPingpongIdentityConfigs();
std::vector<CutlassCompiledConfig> cutlassPingpongGeluConfigs();

}  // namespace kiln::cuda
