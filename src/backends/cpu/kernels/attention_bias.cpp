// The additive bias of one attention score row: attn_mask (bool keep-flags or float values, broadcast
// from the right to [batch, q_heads, q_seq, total_kv], its key axis padded with "masked" when
// shorter), then the causal frontier, the sliding window and nonpad_kv_seqlen's padding, each of
// which only removes keys.

#include <algorithm>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernels/attention_parts.h"
#include "ir/dtype.h"

namespace kiln::cpu {

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

template <typename T>
void copyMaskValues(const T* m, int64_t n, float* row) {
    for (int64_t j = 0; j < n; ++j) row[j] = static_cast<float>(m[j]);
}

void copyMaskFlags(const bool* m, int64_t n, float* row) {
    for (int64_t j = 0; j < n; ++j) row[j] = m[j] ? 0.f : kMasked;
}

}  // namespace

Status AttentionBias::plan(const TensorView* mask, bool hasNonpad, const AttentionSizes& sizes, const Rules& rules,
                           const std::string& name) {
    mSizes = sizes;
    mRules = rules;
    // A window wider than every query position's reach is unbounded; capping it keeps the position
    // arithmetic in fill() far from int64 overflow.
    const int64_t reach = sizes.total + sizes.qSeq + 1;
    if (mRules.leftWindow > reach) mRules.leftWindow = reach;
    if (mRules.rightWindow > reach) mRules.rightWindow = reach;
    mHasNonpad = hasNonpad;
    mHasMask = mask != nullptr;
    std::fill(std::begin(mMaskStrides), std::end(mMaskStrides), int64_t{0});
    if (!mask) return Status::ok();

    const Shape& s = mask->shape;
    const DataType t = mask->dtype;
    if (t != DataType::kBOOL && t != DataType::kFLOAT && t != DataType::kHALF && t != DataType::kBF16 &&
        t != DataType::kDOUBLE)
        return invalidArgument(name + ": attn_mask must be bool or floating-point, got " + dataTypeName(t));
    if (s.empty() || s.size() > 4)
        return invalidArgument(name + ": attn_mask must have rank 1 to 4, got " + shapeToString(s));
    mMaskKeys = s.back();
    if (mMaskKeys > sizes.total)
        return invalidArgument(name + ": attn_mask " + shapeToString(s) + " has more keys than the " +
                               std::to_string(sizes.total) + " of past and new keys");
    const int64_t full[3] = {sizes.batch, sizes.qHeads, sizes.qSeq};
    const size_t leading = s.size() - 1;  // mask axes before the key axis, right-aligned to (batch, head, query)
    int64_t stride = mMaskKeys;
    for (size_t d = leading; d-- > 0;) {
        const size_t axis = 3 - leading + d;
        const int64_t extent = s[d];
        if (extent != 1 && extent != full[axis])
            return invalidArgument(name + ": attn_mask " + shapeToString(s) +
                                   " does not broadcast to (batch, q_heads, q_seq, total_kv) = (" +
                                   std::to_string(sizes.batch) + ", " + std::to_string(sizes.qHeads) + ", " +
                                   std::to_string(sizes.qSeq) + ", " + std::to_string(sizes.total) + ")");
        mMaskStrides[axis] = extent == 1 ? 0 : stride;
        stride *= extent;
    }
    return Status::ok();
}

bool AttentionBias::fill(const TensorView* mask, const int64_t* nonpad, int64_t b, int64_t h, int64_t i,
                         float* row) const {
    const int64_t total = mSizes.total;
    std::fill(row, row + total, 0.f);
    if (mHasMask) {
        const int64_t at = b * mMaskStrides[0] + h * mMaskStrides[1] + i * mMaskStrides[2];
        dispatchDataType(mask->dtype, [&](auto tag) {
            using T = decltype(tag);
            const T* m = mask->as<const T>() + at;
            if constexpr (std::is_same_v<T, bool>)
                copyMaskFlags(m, mMaskKeys, row);
            else
                copyMaskValues(m, mMaskKeys, row);
        });
        std::fill(row + mMaskKeys, row + total, kMasked);
    }
    // Keys before this query block, and so the query's absolute position.
    const int64_t offset = mHasNonpad ? nonpad[b] - mSizes.qSeq : mSizes.past;
    const int64_t position = i + offset;
    // The keys the rules leave: [first, end).
    int64_t first = 0, end = total;
    if (mRules.causal) end = std::min(end, position + 1);
    if (mRules.rightWindow >= 0) end = std::min(end, position + mRules.rightWindow + 1);
    if (mRules.leftWindow >= 0) first = std::max(first, position - mRules.leftWindow);
    if (mHasNonpad) end = std::min(end, nonpad[b]);
    first = std::clamp<int64_t>(first, 0, total);
    end = std::clamp<int64_t>(end, first, total);
    std::fill(row, row + first, kMasked);
    std::fill(row + end, row + total, kMasked);
    for (int64_t j = first; j < end; ++j)
        if (row[j] != kMasked) return true;
    return false;
}

}  // namespace kiln::cpu
