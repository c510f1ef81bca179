#pragma once
// Block-wide reductions of one float per thread, for kernels that give a whole block to one row.

#include <cuda_runtime.h>

namespace kiln::cuda {

/// Every thread of a block of kBlock threads (a multiple of 32) gets `combine` folded over `v` of the
/// whole block (`identity` fills the lanes past the last warp). `scratch` holds kBlock / 32 + 1 floats
/// and may be reused as soon as the call returns.
template <int kBlock, typename Combine>
__device__ __forceinline__ float blockReduce(float v, float* scratch, Combine combine, float identity) {
    for (int offset = 16; offset > 0; offset >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, offset));
    constexpr int kWarps = kBlock / 32;
    if constexpr (kWarps == 1) {
        return v;
    } else {
        const int warp = threadIdx.x / 32;
        const int lane = threadIdx.x % 32;
        if (lane == 0) scratch[warp] = v;
        __syncthreads();
        if (warp == 0) {
            v = lane < kWarps ? scratch[lane] : identity;
            for (int offset = 16; offset > 0; offset >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, offset));
            if (lane == 0) scratch[kWarps] = v;
        }
        __syncthreads();
        const float result = scratch[kWarps];
        __syncthreads();
        return result;
    }
}

struct SumCombine {
    __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxCombine {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/// The sum of `v` over the block, in every thread.
template <int kBlock>
__device__ __forceinline__ float blockSum(float v, float* scratch) {
    return blockReduce<kBlock>(v, scratch, SumCombine{}, 0.f);
}

/// The maximum of `v` over the block, in every thread.
template <int kBlock>
__device__ __forceinline__ float blockMax(float v, float* scratch) {
    return blockReduce<kBlock>(v, scratch, MaxCombine{}, -INFINITY);
}

}  // namespace kiln::cuda
