#pragma once
// The two permutations between Kiln's NCHW graph layout and the channels-last (NHWC) forms of
// ir/ops/layout_attributes.h, shared by shape inference, the CPU kernels and the layout pass, so
// every place that moves a rank-4 tensor between the layouts agrees on the axis order.

#include <array>
#include <cstdint>
#include <vector>

namespace kiln {

/// Transpose perm taking NCHW (and conv weights KCRS) to NHWC (KRSC): output axis i reads input axis perm[i].
inline constexpr std::array<int64_t, 4> kToChannelsLast = {0, 2, 3, 1};
/// Transpose perm taking NHWC back to NCHW.
inline constexpr std::array<int64_t, 4> kToChannelsFirst = {0, 3, 1, 2};

/// The 4 entries of `dims` in the order of `perm` (Transpose's rule: result[i] = dims[perm[i]]).
template <typename Vec>
Vec permuteRank4(const Vec& dims, const std::array<int64_t, 4>& perm) {
    Vec out;
    out.reserve(4);
    for (int64_t axis : perm) out.push_back(dims[static_cast<size_t>(axis)]);
    return out;
}

inline std::vector<int64_t> permVector(const std::array<int64_t, 4>& perm) {
    return std::vector<int64_t>(perm.begin(), perm.end());
}

}  // namespace kiln
