#include "backends/cpu/kernels/reduction_layout.h"

namespace kiln::cpu {

ReductionLayout planReduction(const Shape& shape, const std::vector<bool>& reducedAxes) {
    // Fold: drop extent-1 axes, merge neighbours of the same kind (row-major strides stay valid).
    std::vector<int64_t> extents;
    std::vector<bool> kinds;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        if (!kinds.empty() && kinds.back() == reducedAxes[d]) {
            extents.back() *= shape[d];
        } else {
            extents.push_back(shape[d]);
            kinds.push_back(reducedAxes[d]);
        }
    }
    std::vector<int64_t> strides(extents.size(), 1);
    for (size_t d = extents.size(); d-- > 1;) strides[d - 1] = strides[d] * extents[d];

    ReductionLayout layout;
    size_t reducedRuns = 0;
    for (size_t d = 0; d < extents.size(); ++d) {
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
        for (size_t d = 0; d < extents.size(); ++d) {
            if (kinds[d]) seenReduced = true;
            else if (seenReduced) layout.inner *= extents[d];
            else layout.outer *= extents[d];
        }
        layout.reduced = layout.reduceCount;
    }
    return layout;
}

}  // namespace kiln::cpu
