#include "backends/attention_layout.h"

namespace kiln {

namespace {

HeadLayout viewLayout(const AttentionInputView& v) {
    return {v.batch, v.heads, v.seq, v.headSize, v.offset, v.batchStride, v.headStride, v.seqStride};
}

/// A 3-D tensor's last extent is its heads' row; a 4-D one is its own layout.
bool fitsShape(const Shape& s, const HeadLayout& l) {
    return s.size() == 4 || (s.size() == 3 && l.heads > 0 && l.heads * l.headSize == s[2]);
}

}  // namespace

HeadLayout headLayoutOf(const Shape& s, int64_t numHeads) {
    if (s.size() == 4) return {s[0], s[1], s[2], s[3], 0, s[1] * s[2] * s[3], s[2] * s[3], s[3]};
    if (s.size() != 3) return {};
    const int64_t head = numHeads > 0 ? s[2] / numHeads : 0;
    return {s[0], numHeads, s[1], head, 0, s[1] * s[2], head, s[2]};
}

Expected<AttentionLayouts> attentionLayouts(const std::string& name, const Shape& q, const Shape& k, const Shape& v,
                                            const Shape& y, int64_t qHeads, int64_t kvHeads,
                                            const std::optional<AttentionInputViews>& views) {
    AttentionLayouts l;
    const Shape* inputs[3] = {&q, &k, &v};
    bool fits = true;
    if (views) {
        HeadLayout* layouts[3] = {&l.q, &l.k, &l.v};
        for (size_t i = 0; i < 3; ++i) {
            *layouts[i] = viewLayout(views->qkv[i]);
            fits = fits && views->qkv[i].extent() <= shapeElementCount(*inputs[i]);
        }
        fits = fits && static_cast<int64_t>(y.size()) == views->outputRank;
    } else {
        for (const Shape* s : inputs)
            if (s->size() != 3 && s->size() != 4)
                return invalidArgument(name + ": Q, K and V must be 3-D or 4-D, not " + shapeToString(*s));
        if (y.size() != q.size()) return invalidArgument(name + ": Y " + shapeToString(y) + " does not have Q's rank");
        l.q = headLayoutOf(q, qHeads);
        l.k = headLayoutOf(k, kvHeads);
        l.v = headLayoutOf(v, kvHeads);
        fits = fitsShape(q, l.q) && fitsShape(k, l.k) && fitsShape(v, l.v);
    }
    l.y = headLayoutOf(y, qHeads);
    if (!fits || !fitsShape(y, l.y) || l.q.headSize != l.k.headSize || l.k.seq != l.v.seq || l.k.heads != l.v.heads ||
        l.k.heads <= 0 || l.q.heads % l.k.heads != 0 || l.q.batch != l.k.batch || l.q.batch != l.v.batch ||
        l.y.batch != l.q.batch || l.y.heads != l.q.heads || l.y.seq != l.q.seq || l.y.headSize != l.v.headSize)
        return invalidArgument(name + ": Q " + shapeToString(q) + ", K " + shapeToString(k) + ", V " +
                               shapeToString(v) + ", Y " + shapeToString(y) +
                               (views ? " (Q, K and V read by kiln_qkv_views)" : "") + " do not fit together");
    return l;
}

}  // namespace kiln
