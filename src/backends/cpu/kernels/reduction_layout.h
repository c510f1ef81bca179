#pragma once
// How a tensor splits into kept and reduced axes, folded into the fewest dimensions: extent-1
// axes are dropped and neighbouring axes of the same kind merged. Most reductions then have the
// block form (outer, reduced, inner); the rest walk strided odometers. Used by the ReduceX
// kernels and by MeanVarianceNormalization.

#include <array>
#include <cstddef>
#include <cstdint>

#include "ir/tensor.h"

namespace kiln::cpu {

/// Input ranks the reduction kernels handle (odometers live on the stack).
constexpr size_t kMaxReduceRank = 16;

/// Dimensions walked in row-major order, each with its element stride in the input.
struct StridedDims {
    size_t rank{0};
    std::array<int64_t, kMaxReduceRank> extents{};
    std::array<int64_t, kMaxReduceRank> strides{};

    /// Input offset of the linear (row-major) position `index`.
    int64_t offsetOf(int64_t index) const {
        int64_t offset = 0;
        for (size_t d = rank; d-- > 0;) {
            offset += (index % extents[d]) * strides[d];
            index /= extents[d];
        }
        return offset;
    }
};

/// Calls fn(offset) for base + every position of `dims`, in row-major order.
template <typename Fn>
void forEachOffset(const StridedDims& dims, int64_t base, Fn&& fn) {
    if (dims.rank == 0) {
        fn(base);
        return;
    }
    for (size_t d = 0; d < dims.rank; ++d)
        if (dims.extents[d] == 0) return;
    const size_t last = dims.rank - 1;
    std::array<int64_t, kMaxReduceRank> index{};
    int64_t offset = base;
    while (true) {
        for (int64_t i = 0; i < dims.extents[last]; ++i) fn(offset + i * dims.strides[last]);
        size_t d = last;
        while (d-- > 0) {  // odometer over the outer dimensions
            offset += dims.strides[d];
            if (++index[d] < dims.extents[d]) break;
            offset -= index[d] * dims.strides[d];
            index[d] = 0;
        }
        if (d == static_cast<size_t>(-1)) return;
    }
}

struct ReductionLayout {
    int64_t outputCount{1};  // kept positions (the output's element count)
    int64_t reduceCount{1};  // positions reduced into each output element
    /// The block form: the input is (outer, reduced, inner) and outputs are (outer, inner).
    bool isBlock{true};
    int64_t outer{1};
    int64_t reduced{1};
    int64_t inner{1};
    /// The general form (also filled for the block form): kept and reduced dims with input strides.
    StridedDims kept;
    StridedDims reducedDims;
};

/// Which axes a reduction folds, by axis index.
using ReducedAxes = std::array<bool, kMaxReduceRank>;

/// `reducedAxes[d]` says whether axis d of `shape` is reduced; shape.size() <= kMaxReduceRank.
/// Allocates nothing, so a kernel may plan at run time when its axes arrive only then.
ReductionLayout planReduction(const Shape& shape, const ReducedAxes& reducedAxes);

}  // namespace kiln::cpu
