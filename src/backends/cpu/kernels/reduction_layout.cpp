#include "backends/cpu/kernels/reduction_layout.h"

namespace kiln::cpu {

ReductionLayout planReduction(const Shape& shape, const ReducedAxes& reducedAxes) {
    // Fold: drop extent-1 axes, merge neighbours of the same kind (row-major strides stay valid).
    std::array<int64_t, kMaxReduceRank> extents{};
    std::array<bool, kMaxReduceRank> kinds{};
    size_t rank = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        if (rank > 0 && kinds[rank - 1] == reducedAxes[d]) {
            extents[rank - 1] *= shape[d];
        } else {
            extents[rank] = shape[d];
            kinds[rank] = reducedAxes[d];
            ++rank;
        }
    }
    std::array<int64_t, kMaxReduceRank> strides{};
    if (rank > 0) strides[rank - 1] = 1;
    for (size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * extents[d];

    ReductionLayout layout;
    size_t reducedRuns = 0;
    for (size_t d = 0; d < rank; ++d) {
        StridedDims& dims = kinds[d] ? layout.reducedDims : layout.kept;
        dims.extents[dims.rank] = extents[d];
        dims.strides[dims.rank] = strides[d];
        ++dims.rank;
        if (kinds[d]) {
            ++reducedRuns;
            layout.reduceCount *= extents[d];
        } else {
            layout.outputCount *= extents[d];
        }
    }
    layout.isBlock = reducedRuns <= 1;
    if (layout.isBlock) {
        bool seenReduced = false;
        for (size_t d = 0; d < rank; ++d) {
            if (kinds[d]) seenReduced = true;
            else if (seenReduced) layout.inner *= extents[d];
            else layout.outer *= extents[d];
        }
        layout.reduced = layout.reduceCount;
    }
    return layout;
}

}  // namespace kiln::cpu
