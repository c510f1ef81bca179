// The CPU Attention kernel against a double-precision scaled-dot-product reference on random data:
// 4-D inputs, grouped-query heads, an additive mask, the causal mask, which ONNX aligns top-left
// when there is no KV cache (query i sees keys 0..i), also when the key sequence is longer, and a
// sliding window with softcap.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_support.h"

namespace kiln::test {
namespace {

/// Y[b, h, i] = softmax_j(scale * Q[b, h, i] . K[b, h / g, j] + mask[i, j] + causal) V[b, h / g, j].
struct Options {
    bool causal{false};
    double softcap{0};       // 0: none
    int64_t left{-1}, right{-1};  // sliding window, -1: unbounded
};

std::vector<double> referenceAttention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask,
                                       const Options& o) {
    const int64_t batch = q.shape()[0], heads = q.shape()[1], sq = q.shape()[2], d = q.shape()[3];
    const int64_t kvHeads = k.shape()[1], sk = k.shape()[2], dv = v.shape()[3], groups = heads / kvHeads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    std::vector<double> y(static_cast<size_t>(batch * heads * sq * dv));
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t i = 0; i < sq; ++i) {
                std::vector<double> s(static_cast<size_t>(sk));
                double top = -std::numeric_limits<double>::infinity();
                for (int64_t j = 0; j < sk; ++j) {
                    double dot = 0;
                    for (int64_t c = 0; c < d; ++c)
                        dot += double(q.data<float>()[((b * heads + h) * sq + i) * d + c]) *
                               k.data<float>()[((b * kvHeads + h / groups) * sk + j) * d + c];
                    double score = dot * scale;
                    if (o.softcap > 0) score = o.softcap * std::tanh(score / o.softcap);
                    s[j] = score + (mask ? mask->data<float>()[i * sk + j] : 0.0);
                    bool hidden = (o.causal && j > i) || (o.left >= 0 && j < i - o.left) || (o.right >= 0 && j > i + o.right);
                    if (hidden) s[j] = -std::numeric_limits<double>::infinity();
                    top = std::max(top, s[j]);
                }
                double sum = 0;
                for (double& e : s) sum += (e = std::exp(e - top));
                for (int64_t c = 0; c < dv; ++c) {
                    double acc = 0;
                    for (int64_t j = 0; j < sk; ++j)
                        acc += s[j] / sum * v.data<float>()[((b * kvHeads + h / groups) * sk + j) * dv + c];
                    y[static_cast<size_t>(((b * heads + h) * sq + i) * dv + c)] = acc;
                }
            }
    return y;
}

TEST(AttentionKernel, MatchesTheReferenceWithMasksCausalWindowsSoftcapAndGroupedHeads) {
    struct Case {
        Shape q, k, v;
        bool mask;
        Options options;
    };
    uint32_t seed = 1;
    for (const Case& c : std::vector<Case>{{{2, 4, 5, 8}, {2, 4, 5, 8}, {2, 4, 5, 8}, true, {}},
                                           {{1, 4, 3, 8}, {1, 2, 7, 8}, {1, 2, 7, 6}, false, {true}},  // sk > sq
                                           {{2, 2, 6, 4}, {2, 2, 6, 4}, {2, 2, 6, 4}, true, {true}},
                                           {{1, 2, 6, 8}, {1, 2, 6, 8}, {1, 2, 6, 8}, true, {false, 0.5, 2, 1}}}) {
        Tensor q = randomTensor(DataType::kFLOAT, c.q, -1, 1, seed++);
        Tensor k = randomTensor(DataType::kFLOAT, c.k, -1, 1, seed++);
        Tensor v = randomTensor(DataType::kFLOAT, c.v, -1, 1, seed++);
        Tensor mask = randomTensor(DataType::kFLOAT, {c.q[2], c.k[2]}, -2, 0, seed++);
        AttributeMap attrs;
        if (c.options.causal) attrs.set("is_causal", int64_t{1});
        if (c.options.softcap > 0) attrs.set("softcap", static_cast<float>(c.options.softcap));
        if (c.options.left >= 0) attrs.set("left_window_size", c.options.left);
        if (c.options.right >= 0) attrs.set("right_window_size", c.options.right);
        std::vector<const Tensor*> inputs = {&q, &k, &v};
        if (c.mask) inputs.push_back(&mask);
        SingleNodeRun run = runSingleNode("Attention", inputs, 1, attrs);
        ASSERT_TRUE(run.status.isOk()) << run.status.message();
        EXPECT_EQ(compareWithReference(run.outputs[0], referenceAttention(q, k, v, c.mask ? &mask : nullptr, c.options),
                                       1e-5, 1e-6),
                  "");
    }
}

}  // namespace
}  // namespace kiln::test
