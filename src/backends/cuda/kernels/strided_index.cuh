#pragma once
// An output index decomposed over up to 8 dims, each with the input's element stride for it: the one
// device helper of Transpose and Slice (a permuted or stepped view of the input read in output order).

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda {

constexpr int kMaxStridedRank = 8;

struct StridedView {
    int rank{0};
    int64_t dims[kMaxStridedRank]{};           // output extents, outermost first
    int64_t inputStrides[kMaxStridedRank]{};  // input elements per step along each output dim
    int64_t inputOffset{0};                    // input element of output element 0
    int64_t count{0};
};

#ifdef __CUDACC__
__device__ __forceinline__ int64_t stridedInputOffset(const StridedView& view, int64_t index) {
    int64_t offset = view.inputOffset;
    for (int d = view.rank - 1; d >= 0; --d) {
        const int64_t coord = index % view.dims[d];
        index /= view.dims[d];
        offset += coord * view.inputStrides[d];
    }
    return offset;
}
#endif

}  // namespace kiln::cuda
