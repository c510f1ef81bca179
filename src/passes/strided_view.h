#pragma once
// A value as a strided view of another. The data-movement ops exporters chain around attention
// (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Gather at a constant index, Split, Slice with step 1)
// only rearrange elements: where every shape along such a chain is static, the chain's result is its
// first input read at an offset with one stride per dimension, and a consumer that reads by strides can
// take that input instead of the chain's copies.
//
// The composition keeps each dimension as a list of factors (size, stride), outermost first, because a
// chain may pass through shapes no single stride per dimension describes: torch's packed projection
// [seq, batch, 3 * E] -> [seq, batch * heads, head] merges batch and heads, whose strides are not
// compatible, before a later Reshape splits them apart again.

#include <cstdint>
#include <optional>
#include <vector>

#include "ir/graph.h"

namespace kiln {

/// Element (i0, ..., in) of the view is element offset + sum of i_k * strides[k] of its source.
struct StridedView {
    std::vector<int64_t> shape;
    std::vector<int64_t> strides;
    int64_t offset{0};
};

class FactoredView {
public:
    /// The whole of a contiguous tensor of `shape` (every extent known, >= 0).
    static FactoredView contiguous(const std::vector<int64_t>& shape);

    std::vector<int64_t> shape() const;
    /// Row-major regrouping into `shape` (same element count); false where a factor would have to split
    /// unevenly (the view is then unchanged).
    bool reshape(const std::vector<int64_t>& shape);
    /// Dimension k of the result is dimension perm[k] of the view; false for an invalid permutation.
    bool transpose(const std::vector<int64_t>& perm);
    /// Index `index` (0 <= index < extent) of dimension `axis`, which disappears.
    bool select(int64_t axis, int64_t index);
    /// `count` consecutive indices of dimension `axis` from `start`; a dimension of several factors
    /// narrows only where they merge into one stride.
    bool narrow(int64_t axis, int64_t start, int64_t count);
    /// One stride per dimension, or nullopt where some dimension's factors do not merge into one.
    std::optional<StridedView> strided() const;

private:
    struct Factor {
        int64_t size;
        int64_t stride;
    };
    std::vector<std::vector<Factor>> mDims;
    int64_t mOffset{0};
};

/// `v` traced back through the data-movement ops above to the furthest value it rearranges.
struct TracedView {
    Value* source{nullptr};
    FactoredView view;
    int copies{0};  // ops passed that copy (Transpose, Gather, Split, Slice); reshapes cost nothing
};

/// Whether `node` is one of the rearrangements a trace passes through (its data input is input 0).
bool isRearrangement(const Node* node);

/// The trace of `v`; `v` itself as a contiguous view (0 copies) where its producer is none of those ops,
/// or some shape on the way is not static. Nullopt when `v`'s own shape is not static.
std::optional<TracedView> traceView(Value* v);

}  // namespace kiln
