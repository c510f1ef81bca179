#pragma once
// The strided copy (strided_copy.cu) of Transpose and Slice (layout.cu) and of the other families that
// rearrange a tensor by a fixed index map (DepthToSpace, SpaceToDepth, Tile): plan a StridedView,
// launch one copy.

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/kernels/strided_index.cuh"
#include "common/status.h"
#include "ir/tensor.h"

namespace kiln::cuda {

/// Row-major element strides of `shape`.
std::vector<int64_t> contiguousStrides(const Shape& shape);
/// The view of output `outShape` reading the input at `inputStrides` (one per output dim) from
/// `inputOffset`. Drops output dims of extent 1 (they add nothing to any offset), so deep shapes of
/// size-1 dims fit.
StridedView compactView(const Shape& outShape, const std::vector<int64_t>& inputStrides, int64_t inputOffset);
/// Whether `outShape` has at most kMaxStridedRank dims of extent > 1 (what compactView can hold).
bool fitsStridedRank(const Shape& outShape);
/// out[i] = in[stridedInputOffset(view, i)] on `stream` for elements of `elementSize` bytes (1, 2, 4 or
/// 8), on the path planStridedCopy chooses for this view and these two addresses (strided_plan.h).
Status launchStridedCopy(const StridedView& view, size_t elementSize, const void* in, void* out, cudaStream_t stream);

}  // namespace kiln::cuda
