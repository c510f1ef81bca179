#pragma once
// ONNX index inputs on the device: an index may count from the end (negative); one outside the axis
// cannot be reported without waiting for the device, so kernels test for -1 and skip or zero it.

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda {

/// Data index of `index` along an axis of `extent`, or -1 when it is outside [-extent, extent).
__device__ __forceinline__ int64_t normalizeIndex(int64_t index, int64_t extent) {
    if (index < 0) index += extent;
    return index >= 0 && index < extent ? index : -1;
}

}  // namespace kiln::cuda
