#pragma once
// Block-wide reductions of one value per thread (float, or double where a kernel computes in double),
// for kernels that give a whole block to one row.

#include <cuda_runtime.h>

namespace kiln::cuda {

/// Every thread of a block of kBlock threads (a multiple of 32) gets `combine` folded over `v` of the
/// whole block (`identity` fills the lanes past the last warp). `scratch` holds kBlock / 32 + 1 values
/// and may be reused as soon as the call returns.
template <int kBlock, typename F, typename Combine>
__device__ __forceinline__ F blockReduce(F v, F* scratch, Combine combine, F identity) {
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
        const F result = scratch[kWarps];
        __syncthreads();
        return result;
    }
}

struct SumCombine {
    template <typename F>
    __device__ F operator()(F a, F b) const {
        return a + b;
    }
};
struct MaxCombine {
    template <typename F>
    __device__ F operator()(F a, F b) const {
        return fmax(a, b);
    }
};

/// The sum of `v` over the block, in every thread.
template <int kBlock, typename F>
__device__ __forceinline__ F blockSum(F v, F* scratch) {
    return blockReduce<kBlock>(v, scratch, SumCombine{}, F(0));
}

/// The maximum of `v` over the block, in every thread.
template <int kBlock, typename F>
__device__ __forceinline__ F blockMax(F v, F* scratch) {
    return blockReduce<kBlock>(v, scratch, MaxCombine{}, F(-INFINITY));
}

}  // namespace kiln::cuda
