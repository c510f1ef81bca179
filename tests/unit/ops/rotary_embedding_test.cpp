// RotaryEmbedding on the CPU against a double-precision reference written from the ONNX spec: 4-D
// [batch, heads, seq, head] and 3-D [batch, seq, heads*head] inputs, split-half and interleaved
// pairs, partial rotation (rotary_embedding_dim), caches indexed by position_ids or given per
// token, a batch-1 cache or position list serving every batch entry, float16/bfloat16; then errors.

#include <gtest/gtest.h>

#include <functional>

#include "test_support.h"

namespace kiln::test {
namespace {

struct RotaryCase {
    Shape x;
    int64_t numHeads{0};  // the 3-D layout's head count
    bool interleaved{false};
    int64_t rotaryDim{0};  // 0: the whole head
    bool positions{true};  // position_ids [batch, seq] into a [maxPositions, rot/2] cache
    int64_t maxPositions{50};
    bool sharedBatch{false};  // position_ids / per-token caches of batch 1
    DataType type{DataType::kFLOAT};
};

struct RotaryInputs {
    Tensor x, cos, sin, positions;
    bool hasPositions{false};
    AttributeMap attrs;
    std::vector<const Tensor*> list() const {
        if (hasPositions) return {&x, &cos, &sin, &positions};
        return {&x, &cos, &sin};
    }
};

struct RotaryDims {
    int64_t batch, heads, seq, head, rotary;
};

RotaryDims rotaryDims(const RotaryCase& c) {
    const bool packed = c.x.size() == 3;
    const int64_t heads = packed ? c.numHeads : c.x[1];
    const int64_t head = packed ? c.x[2] / heads : c.x[3];
    return {c.x[0], heads, packed ? c.x[1] : c.x[2], head, c.rotaryDim > 0 ? c.rotaryDim : head};
}

RotaryInputs makeRotaryInputs(const RotaryCase& c, uint32_t seed) {
    const RotaryDims d = rotaryDims(c);
    const int64_t cacheBatch = c.sharedBatch ? 1 : d.batch;
    const Shape cache = c.positions ? Shape{c.maxPositions, d.rotary / 2} : Shape{cacheBatch, d.seq, d.rotary / 2};
    RotaryInputs in;
    in.x = randomTensor(c.type, c.x, -2, 2, seed);
    in.cos = randomTensor(c.type, cache, -1, 1, seed + 1);
    in.sin = randomTensor(c.type, cache, -1, 1, seed + 2);
    if (c.positions) {
        in.positions =
            randomTensor(DataType::kINT64, {cacheBatch, d.seq}, 0, static_cast<double>(c.maxPositions), seed + 3);
        in.hasPositions = true;
    }
    if (c.numHeads > 0) in.attrs.set("num_heads", c.numHeads);
    if (c.interleaved) in.attrs.set("interleaved", int64_t{1});
    if (c.rotaryDim > 0) in.attrs.set("rotary_embedding_dim", c.rotaryDim);
    return in;
}

std::vector<double> referenceRotary(const RotaryCase& c, const RotaryInputs& in) {
    const RotaryDims d = rotaryDims(c);
    const int64_t half = d.rotary / 2;
    std::vector<double> y(static_cast<size_t>(in.x.elementCount()));
    for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t h = 0; h < d.heads; ++h)
            for (int64_t s = 0; s < d.seq; ++s) {
                const int64_t cb = c.sharedBatch ? 0 : b;
                const int64_t row =
                    c.positions ? static_cast<int64_t>(in.positions.elementAsDouble(cb * d.seq + s)) : cb * d.seq + s;
                const int64_t base = c.x.size() == 3 ? (b * d.seq + s) * d.heads * d.head + h * d.head
                                                     : ((b * d.heads + h) * d.seq + s) * d.head;
                for (int64_t e = 0; e < d.head; ++e) y[static_cast<size_t>(base + e)] = in.x.elementAsDouble(base + e);
                for (int64_t k = 0; k < half; ++k) {
                    // The pair: (k, k + half) of the rotated span, or (2k, 2k + 1) when interleaved.
                    const int64_t first = c.interleaved ? 2 * k : k, second = c.interleaved ? 2 * k + 1 : k + half;
                    const double x1 = in.x.elementAsDouble(base + first), x2 = in.x.elementAsDouble(base + second);
                    const double cs = in.cos.elementAsDouble(row * half + k),
                                 sn = in.sin.elementAsDouble(row * half + k);
                    y[static_cast<size_t>(base + first)] = x1 * cs - x2 * sn;
                    y[static_cast<size_t>(base + second)] = x1 * sn + x2 * cs;
                }
            }
    return y;
}

TEST(RotaryEmbeddingKernel, MatchesTheReferenceInEveryForm) {
    const std::vector<std::pair<const char*, RotaryCase>> cases = {
        {"4-D", {.x = {2, 4, 3, 8}}},
        {"4-D interleaved", {.x = {2, 4, 3, 8}, .interleaved = true}},
        {"4-D partial", {.x = {2, 4, 3, 8}, .rotaryDim = 4}},
        {"4-D partial interleaved", {.x = {2, 4, 3, 8}, .interleaved = true, .rotaryDim = 4}},
        {"3-D", {.x = {2, 3, 32}, .numHeads = 4}},
        {"3-D interleaved partial", {.x = {2, 5, 24}, .numHeads = 2, .interleaved = true, .rotaryDim = 6}},
        {"per-token caches", {.x = {2, 4, 3, 8}, .positions = false}},
        {"per-token caches, interleaved partial",
         {.x = {2, 4, 3, 8}, .interleaved = true, .rotaryDim = 2, .positions = false}},
        {"3-D per-token caches", {.x = {2, 3, 12}, .numHeads = 3, .positions = false}},
        {"shared position list", {.x = {3, 2, 4, 6}, .sharedBatch = true}},
        {"shared per-token caches", {.x = {3, 2, 4, 6}, .positions = false, .sharedBatch = true}},
        {"4-D, num_heads agreeing", {.x = {1, 2, 3, 4}, .numHeads = 2}},
        {"float16", {.x = {2, 4, 3, 8}, .interleaved = true, .type = DataType::kHALF}},
        {"bfloat16 3-D", {.x = {2, 3, 32}, .numHeads = 4, .rotaryDim = 4, .type = DataType::kBF16}},
    };
    uint32_t seed = 1;
    for (const auto& [label, c] : cases) {
        SCOPED_TRACE(label);
        RotaryInputs in = makeRotaryInputs(c, seed += 10);
        SingleNodeRun run = runSingleNode("RotaryEmbedding", in.list(), 1, in.attrs);
        ASSERT_TRUE(run.status.isOk()) << run.status.message();
        EXPECT_EQ(run.outputs[0].shape(), c.x);
        EXPECT_EQ(run.outputs[0].dtype(), c.type);
        const double rtol = c.type == DataType::kHALF ? 1e-3 : c.type == DataType::kBF16 ? 5e-3 : 1e-6;
        EXPECT_EQ(compareWithReference(run.outputs[0], referenceRotary(c, in), rtol, 1e-6), "");
    }
}

TEST(RotaryEmbeddingKernel, MalformedNodesAndPositionsGiveErrorsThatSayWhatIsWrong) {
    auto expectError = [](const RotaryCase& c, const std::string& what,
                          const std::function<void(RotaryInputs&)>& edit) {
        SCOPED_TRACE(what);
        RotaryInputs in = makeRotaryInputs(c, 99);
        if (edit) edit(in);
        SingleNodeRun run = runSingleNode("RotaryEmbedding", in.list(), 1, in.attrs);
        ASSERT_FALSE(run.status.isOk());
        EXPECT_NE(run.status.message().find("'node'"), std::string::npos) << run.status.message();
        EXPECT_NE(run.status.message().find(what), std::string::npos) << run.status.message();
    };
    const RotaryCase base{.x = {2, 4, 3, 8}};
    expectError(base, "needs the num_heads", [](RotaryInputs& in) {
        in.x = randomTensor(DataType::kFLOAT, {2, 3, 32}, -1, 1, 1);
    });
    expectError(base, "must be even", [](RotaryInputs& in) { in.attrs.set("rotary_embedding_dim", int64_t{3}); });
    expectError(base, "exceeds the head size",
                [](RotaryInputs& in) { in.attrs.set("rotary_embedding_dim", int64_t{10}); });
    expectError(base, "is not rotary_embedding_dim/2", [](RotaryInputs& in) {
        in.cos = randomTensor(DataType::kFLOAT, {50, 3}, -1, 1, 2);
    });
    expectError(base, "must be 2-D", [](RotaryInputs& in) {
        in.sin = randomTensor(DataType::kFLOAT, {2, 3, 4}, -1, 1, 3);
    });
    expectError(base, "differs from the input's head axis",
                [](RotaryInputs& in) { in.attrs.set("num_heads", int64_t{3}); });
    expectError(base, "position_ids", [](RotaryInputs& in) { in.positions = Tensor::fromInt64({0, 1, 2, 3}, {2, 2}); });
    expectError(base, "must have the input's type", [](RotaryInputs& in) {
        in.cos = randomTensor(DataType::kHALF, {50, 4}, -1, 1, 4);
    });
    // Run time: a position beyond the caches.
    expectError(base, "position_ids holds 50, outside the caches' [0, 50)",
                [](RotaryInputs& in) { in.positions.data<int64_t>()[4] = 50; });
    expectError(base, "position_ids holds -1", [](RotaryInputs& in) { in.positions.data<int64_t>()[0] = -1; });
}

}  // namespace
}  // namespace kiln::test
