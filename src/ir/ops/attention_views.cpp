#include "ir/ops/attention_views.h"

namespace kiln {

namespace {

constexpr size_t kIntsPerView = 8;
constexpr size_t kAttributeInts = 1 + 3 * kIntsPerView;

}  // namespace

int64_t AttentionInputView::extent() const {
    if (batch == 0 || heads == 0 || seq == 0 || headSize == 0) return 0;
    return offset + (batch - 1) * batchStride + (heads - 1) * headStride + (seq - 1) * seqStride + headSize;
}

std::vector<int64_t> encodeAttentionInputViews(const AttentionInputViews& views) {
    std::vector<int64_t> ints = {views.outputRank};
    for (const AttentionInputView& v : views.qkv)
        ints.insert(ints.end(), {v.batch, v.heads, v.seq, v.headSize, v.offset, v.batchStride, v.headStride,
                                 v.seqStride});
    return ints;
}

DecodedAttentionInputViews decodeAttentionInputViews(const AttributeMap& attrs) {
    DecodedAttentionInputViews decoded;
    if (!attrs.has(kQkvViewsAttribute)) return decoded;
    const auto ints = attrs.getInts(kQkvViewsAttribute);
    if (!ints || ints->size() != kAttributeInts) {
        decoded.error = std::string(kQkvViewsAttribute) + " must hold " + std::to_string(kAttributeInts) + " ints";
        return decoded;
    }
    AttentionInputViews views;
    views.outputRank = (*ints)[0];
    if (views.outputRank != 3 && views.outputRank != 4) {
        decoded.error = std::string(kQkvViewsAttribute) + "'s output rank must be 3 or 4";
        return decoded;
    }
    for (size_t i = 0; i < 3; ++i) {
        const int64_t* v = ints->data() + 1 + i * kIntsPerView;
        views.qkv[i] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
        for (size_t j = 0; j < kIntsPerView; ++j)
            if (v[j] < 0) {
                decoded.error = std::string(kQkvViewsAttribute) + " holds a negative extent, offset or stride";
                return decoded;
            }
    }
    decoded.views = views;
    return decoded;
}

}  // namespace kiln
