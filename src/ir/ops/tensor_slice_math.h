#pragma once
// The Slice spec's clamping of starts/ends, shared by shape inference and the CPU kernel so that the
// inferred extent and the elements copied cannot disagree.

#include <algorithm>
#include <cstdint>

namespace kiln::tensorops {

struct SliceRange {
    int64_t start{0};  // first index read, valid when count > 0
    int64_t step{1};
    int64_t count{0};  // output extent
};

/// Resolves one axis of a slice over a dimension of extent `dim` (step != 0).
inline SliceRange resolveSlice(int64_t dim, int64_t start, int64_t end, int64_t step) {
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    SliceRange range;
    range.step = step;
    if (dim <= 0) return range;
    if (step > 0) {
        start = std::clamp<int64_t>(start, 0, dim);
        end = std::clamp<int64_t>(end, 0, dim);
        range.start = start;
        range.count = end > start ? (end - start - 1) / step + 1 : 0;
        return range;
    }
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    int64_t magnitude = step == INT64_MIN ? INT64_MAX : -step;
    range.start = start;
    range.count = start > end ? (start - end - 1) / magnitude + 1 : 0;
    return range;
}

}  // namespace kiln::tensorops
