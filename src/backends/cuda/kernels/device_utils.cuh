#pragma once
// Device-side helpers shared by the kernel families: element conversions (half is computed in float,
// as the CPU backend does), grid sizing for grid-stride loops, and broadcast offsets.

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backends/cuda/kernels/broadcast_plan.h"

namespace kiln::cuda {

template <typename T>
__device__ __forceinline__ float toFloat(T v);
template <>
__device__ __forceinline__ float toFloat<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ float toFloat<__half>(__half v) {
    return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) {
    return __float2half_rn(v);
}

constexpr int kElementwiseBlock = 256;
// Enough blocks to fill any current GPU several times over; a grid-stride loop covers the rest.
constexpr int64_t kMaxElementwiseBlocks = 65536;

inline unsigned elementwiseGrid(int64_t count) {
    return static_cast<unsigned>(
        std::min<int64_t>((count + kElementwiseBlock - 1) / kElementwiseBlock, kMaxElementwiseBlocks));
}

/// Element offsets of the plan's first N inputs for output index `index` (dims innermost first).
template <int N, typename IndexT>
__device__ __forceinline__ void broadcastOffsets(const BroadcastPlan& plan, IndexT index, IndexT (&offsets)[N]) {
    for (int i = 0; i < N; ++i) offsets[i] = 0;
    for (int d = 0; d < plan.rank; ++d) {
        IndexT extent = static_cast<IndexT>(plan.dims[d]);
        IndexT coord = index % extent;
        index /= extent;
        for (int i = 0; i < N; ++i) offsets[i] += coord * static_cast<IndexT>(plan.strides[i][d]);
    }
}

}  // namespace kiln::cuda
