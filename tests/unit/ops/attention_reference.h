#pragma once
// A double-precision ONNX Attention written as naive loops straight from the spec, and the random
// inputs of one test case, for attention_test.cpp and attention_forms_test.cpp. Shared by both so
// each reads as a list of cases.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"

namespace kiln::test {

/// One Attention call: shapes, optional inputs and attributes.
struct AttentionCase {
    Shape q, k, v;                  // 4-D [batch, heads, seq, size] or 3-D [batch, seq, heads * size]
    int64_t qHeads{0}, kvHeads{0};  // the 3-D layout's head counts
    int64_t past{-1};               // past_key/past_value length; -1: no such inputs
    std::optional<Shape> mask;
    DataType maskType{DataType::kFLOAT};
    std::vector<int64_t> nonpad;  // nonpad_kv_seqlen; empty: absent
    bool causal{false};
    double softcap{0};            // 0: none
    int64_t left{-1}, right{-1};  // sliding window, -1: unbounded
    std::optional<float> scale;
    std::optional<int64_t> qkMode;  // qk_matmul_output_mode attribute, when set
    std::optional<int64_t> softmaxPrecision;
    size_t outputs{1};                  // Y, present_key, present_value, qk_matmul_output
    DataType type{DataType::kFLOAT};    // Q, K, past_key
    std::optional<DataType> valueType;  // V, past_value (default: type)
};

/// The per-head sizes of a case.
struct AttentionDims {
    int64_t batch, qHeads, kvHeads, qSeq, kvSeq, past, total, headSize, vHeadSize;
};

inline AttentionDims attentionDims(const AttentionCase& c) {
    const bool packed = c.q.size() == 3;
    AttentionDims d{};
    d.batch = c.q[0];
    // A malformed case may lack head counts; 1 keeps the arithmetic defined (the run must fail anyway).
    d.qHeads = packed ? std::max<int64_t>(c.qHeads, 1) : c.q[1];
    d.kvHeads = packed ? std::max<int64_t>(c.kvHeads, 1) : c.k[1];
    d.qSeq = packed ? c.q[1] : c.q[2];
    d.kvSeq = packed ? c.k[1] : c.k[2];
    d.headSize = packed ? c.q[2] / d.qHeads : c.q[3];
    d.vHeadSize = packed ? c.v[2] / d.kvHeads : c.v[3];
    d.past = std::max<int64_t>(c.past, 0);
    d.total = d.past + d.kvSeq;
    return d;
}

struct AttentionInputs {
    Tensor q, k, v, mask, pastKey, pastValue, nonpad;
    bool hasMask{false}, hasPastKey{false}, hasPastValue{false}, hasNonpad{false};
    AttributeMap attrs;

    /// The inputs in ONNX order, nullptr for an absent optional one.
    std::vector<const Tensor*> list() const {
        std::vector<const Tensor*> l = {&q,
                                        &k,
                                        &v,
                                        hasMask ? &mask : nullptr,
                                        hasPastKey ? &pastKey : nullptr,
                                        hasPastValue ? &pastValue : nullptr,
                                        hasNonpad ? &nonpad : nullptr};
        while (!l.back()) l.pop_back();
        return l;
    }
};

inline AttentionInputs makeAttentionInputs(const AttentionCase& c, uint32_t seed) {
    const AttentionDims d = attentionDims(c);
    const DataType vType = c.valueType.value_or(c.type);
    AttentionInputs in;
    in.q = randomTensor(c.type, c.q, -1, 1, seed);
    in.k = randomTensor(c.type, c.k, -1, 1, seed + 1);
    in.v = randomTensor(vType, c.v, -1, 1, seed + 2);
    if (c.mask) {
        in.mask = randomTensor(c.maskType, *c.mask, -2, 0, seed + 3);
        in.hasMask = true;
    }
    if (c.past >= 0) {
        in.pastKey = randomTensor(c.type, {d.batch, d.kvHeads, c.past, d.headSize}, -1, 1, seed + 4);
        in.pastValue = randomTensor(vType, {d.batch, d.kvHeads, c.past, d.vHeadSize}, -1, 1, seed + 5);
        in.hasPastKey = in.hasPastValue = true;
    }
    if (!c.nonpad.empty()) {
        in.nonpad = Tensor::fromInt64(c.nonpad, {static_cast<int64_t>(c.nonpad.size())});
        in.hasNonpad = true;
    }
    if (c.q.size() == 3) {
        in.attrs.set("q_num_heads", c.qHeads);
        in.attrs.set("kv_num_heads", c.kvHeads);
    }
    if (c.causal) in.attrs.set("is_causal", int64_t{1});
    if (c.softcap > 0) in.attrs.set("softcap", static_cast<float>(c.softcap));
    if (c.left >= 0) in.attrs.set("left_window_size", c.left);
    if (c.right >= 0) in.attrs.set("right_window_size", c.right);
    if (c.scale) in.attrs.set("scale", *c.scale);
    if (c.qkMode) in.attrs.set("qk_matmul_output_mode", *c.qkMode);
    if (c.softmaxPrecision) in.attrs.set("softmax_precision", *c.softmaxPrecision);
    return in;
}

struct AttentionReference {
    std::vector<double> y, presentKey, presentValue, qk;
};

/// Element (b, h, s, c) of a 4-D tensor, or of a 3-D one packing `heads` heads of `size` per row.
inline double headElement(const Tensor& t, int64_t b, int64_t h, int64_t s, int64_t c, int64_t heads, int64_t seq,
                          int64_t size) {
    if (t.shape().size() == 3) return t.elementAsDouble((b * seq + s) * heads * size + h * size + c);
    return t.elementAsDouble(((b * heads + h) * seq + s) * size + c);
}

inline AttentionReference referenceAttention(const AttentionCase& c, const AttentionInputs& in) {
    const AttentionDims d = attentionDims(c);
    const double inf = std::numeric_limits<double>::infinity();
    const double scale = c.scale ? double(*c.scale) : 1.0 / std::sqrt(double(d.headSize));
    const int64_t groups = d.qHeads / d.kvHeads;
    // Keys and values over the whole sequence: past first, then the new ones.
    auto key = [&](int64_t b, int64_t h, int64_t t, int64_t x) {
        return t < d.past ? in.pastKey.elementAsDouble(((b * d.kvHeads + h) * d.past + t) * d.headSize + x)
                          : headElement(in.k, b, h, t - d.past, x, d.kvHeads, d.kvSeq, d.headSize);
    };
    auto value = [&](int64_t b, int64_t h, int64_t t, int64_t x) {
        return t < d.past ? in.pastValue.elementAsDouble(((b * d.kvHeads + h) * d.past + t) * d.vHeadSize + x)
                          : headElement(in.v, b, h, t - d.past, x, d.kvHeads, d.kvSeq, d.vHeadSize);
    };
    // attn_mask at (b, h, i, j), NumPy-broadcast from the right; keys past its end are masked.
    auto maskBias = [&](int64_t b, int64_t h, int64_t i, int64_t j) -> double {
        const Shape& s = *c.mask;
        if (j >= s.back()) return -inf;
        const int64_t coord[4] = {b, h, i, j};
        int64_t index = 0;
        for (size_t a = 0; a < s.size(); ++a) {
            const int64_t extent = s[a];
            index = index * extent + (extent == 1 ? 0 : coord[4 - s.size() + a]);
        }
        if (c.maskType == DataType::kBOOL) return in.mask.elementAsDouble(index) != 0 ? 0.0 : -inf;
        return in.mask.elementAsDouble(index);
    };

    AttentionReference r;
    r.y.assign(static_cast<size_t>(d.batch * d.qHeads * d.qSeq * d.vHeadSize), 0.0);
    r.qk.assign(static_cast<size_t>(d.batch * d.qHeads * d.qSeq * d.total), 0.0);
    const int64_t qkMode = c.qkMode.value_or(0);
    for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t h = 0; h < d.qHeads; ++h)
            for (int64_t i = 0; i < d.qSeq; ++i) {
                const int64_t offset = c.nonpad.empty() ? d.past : c.nonpad[static_cast<size_t>(b)] - d.qSeq;
                const int64_t position = i + offset;
                std::vector<double> s(static_cast<size_t>(d.total));
                bool anyKey = false;
                for (int64_t j = 0; j < d.total; ++j) {
                    double dot = 0;
                    for (int64_t x = 0; x < d.headSize; ++x)
                        dot += headElement(in.q, b, h, i, x, d.qHeads, d.qSeq, d.headSize) * key(b, h / groups, j, x);
                    double score = dot * scale;
                    double* qk = &r.qk[static_cast<size_t>(((b * d.qHeads + h) * d.qSeq + i) * d.total + j)];
                    if (qkMode == 0) *qk = score;
                    if (c.softcap > 0) score = c.softcap * std::tanh(score / c.softcap);
                    if (qkMode == 1) *qk = score;
                    double bias = c.mask ? maskBias(b, h, i, j) : 0.0;
                    const bool hidden = (c.causal && j > position) || (c.left >= 0 && position - j > c.left) ||
                                        (c.right >= 0 && j - position > c.right) ||
                                        (!c.nonpad.empty() && j >= c.nonpad[static_cast<size_t>(b)]);
                    if (hidden) bias = -inf;
                    anyKey = anyKey || bias != -inf;
                    s[static_cast<size_t>(j)] = score + bias;
                    if (qkMode == 2) *qk = s[static_cast<size_t>(j)];
                }
                // A row whose bias hides every key has zero probabilities (and so a zero output).
                double top = -inf, sum = 0;
                for (double e : s) top = std::max(top, e);
                for (double& e : s) sum += (e = anyKey ? std::exp(e - top) : 0.0);
                for (int64_t j = 0; j < d.total; ++j) {
                    double& p = s[static_cast<size_t>(j)];
                    p = anyKey ? p / sum : 0.0;
                    if (qkMode == 3) r.qk[static_cast<size_t>(((b * d.qHeads + h) * d.qSeq + i) * d.total + j)] = p;
                }
                for (int64_t x = 0; x < d.vHeadSize; ++x) {
                    double acc = 0;
                    for (int64_t j = 0; j < d.total; ++j) acc += s[static_cast<size_t>(j)] * value(b, h / groups, j, x);
                    const int64_t at = c.q.size() == 3 ? (b * d.qSeq + i) * d.qHeads * d.vHeadSize + h * d.vHeadSize + x
                                                       : ((b * d.qHeads + h) * d.qSeq + i) * d.vHeadSize + x;
                    r.y[static_cast<size_t>(at)] = acc;
                }
            }
    for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t h = 0; h < d.kvHeads; ++h)
            for (int64_t t = 0; t < d.total; ++t) {
                for (int64_t x = 0; x < d.headSize; ++x) r.presentKey.push_back(key(b, h, t, x));
                for (int64_t x = 0; x < d.vHeadSize; ++x) r.presentValue.push_back(value(b, h, t, x));
            }
    return r;
}

/// Output tolerance (rtol) for a result type: float arithmetic, then one rounding to the type.
inline double attentionRtol(DataType t) {
    return t == DataType::kHALF ? 1e-3 : t == DataType::kBF16 ? 5e-3 : 1e-5;
}

/// Runs the case through the CPU backend and checks every output's shape and values against the
/// reference: Y and qk_matmul_output within the type's tolerance, the caches exactly (they are copies).
inline void expectAttentionMatches(const AttentionCase& c, uint32_t seed, const std::string& label) {
    SCOPED_TRACE(label);
    const AttentionDims d = attentionDims(c);
    AttentionInputs in = makeAttentionInputs(c, seed);
    SingleNodeRun run = runSingleNode("Attention", in.list(), c.outputs, in.attrs);
    ASSERT_TRUE(run.status.isOk()) << run.status.message();
    ASSERT_EQ(run.outputs.size(), c.outputs);
    const AttentionReference ref = referenceAttention(c, in);
    const double rtol = attentionRtol(c.type);
    const Shape y = c.q.size() == 3 ? Shape{d.batch, d.qSeq, d.qHeads * d.vHeadSize}
                                    : Shape{d.batch, d.qHeads, d.qSeq, d.vHeadSize};
    EXPECT_EQ(run.outputs[0].shape(), y);
    EXPECT_EQ(run.outputs[0].dtype(), c.type);
    EXPECT_EQ(compareWithReference(run.outputs[0], ref.y, rtol, 1e-6), "") << "Y";
    if (c.outputs > 1) {
        EXPECT_EQ(run.outputs[1].shape(), (Shape{d.batch, d.kvHeads, d.total, d.headSize}));
        EXPECT_EQ(compareWithReference(run.outputs[1], ref.presentKey, 0, 0), "") << "present_key";
    }
    if (c.outputs > 2) {
        EXPECT_EQ(run.outputs[2].shape(), (Shape{d.batch, d.kvHeads, d.total, d.vHeadSize}));
        EXPECT_EQ(run.outputs[2].dtype(), c.valueType.value_or(c.type));
        EXPECT_EQ(compareWithReference(run.outputs[2], ref.presentValue, 0, 0), "") << "present_value";
    }
    if (c.outputs > 3) {
        EXPECT_EQ(run.outputs[3].shape(), (Shape{d.batch, d.qHeads, d.qSeq, d.total}));
        EXPECT_EQ(compareWithReference(run.outputs[3], ref.qk, rtol, 1e-6), "") << "qk_matmul_output";
    }
}

}  // namespace kiln::test
