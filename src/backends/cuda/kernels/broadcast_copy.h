#pragma once
// Copies a tensor into a larger one it broadcasts to (numpy rules): Expand's kernel, and how Gemm lays
// its C operand into the output before cuBLASLt accumulates onto it.

#include <cuda_runtime.h>

#include <cstddef>

#include "backends/cuda/kernels/broadcast_plan.h"
#include "common/status.h"

namespace kiln::cuda {

/// dst[i] = src[offset of i under plan's input 0], moving elements of `elementSize` bytes (1, 2, 4 or 8).
Status launchBroadcastCopy(const BroadcastPlan& plan, size_t elementSize, const void* src, void* dst,
                           cudaStream_t stream);

}  // namespace kiln::cuda
