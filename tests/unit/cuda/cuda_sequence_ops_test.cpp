// The CUDA kernels of the recurrent-LLM ops against the CPU backend on random data, in float, float16
// and bfloat16 (and double where the op takes it): RotaryEmbedding (4-D / 3-D, interleaved, partial
// rotary span, position_ids or per-token caches), SwiGLU (alpha), TensorScatter (linear and circular,
// with and without write_indices, negative axis, several element types), LinearAttention (every update
// rule, per-head or per-key decay, beta per head or shared, GQA, past and present state, a state too
// big for shared memory) and CausalConvWithState (bias, past_state, present_state, SiLU, k = 1).

#include <gtest/gtest.h>

#include "cuda_reference_outputs.h"

namespace kiln::cudatest {
namespace {

using CudaSequenceOpsTest = CudaTest;

constexpr DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};

TEST_F(CudaSequenceOpsTest, RotaryEmbeddingMatchesCpu) {
    uint32_t seed = 10;
    struct Case {
        Shape x;
        int64_t numHeads;  // for 3-D input
        int64_t rotaryDim;  // 0: the head size
        bool interleaved;
        bool positions;
        int64_t cacheBatch;  // without positions: 1 or the batch
    };
    const std::vector<Case> cases = {
        {{2, 3, 5, 8}, 0, 0, false, true, 0},   {{2, 3, 5, 8}, 0, 0, true, true, 0},
        {{2, 5, 3 * 8}, 3, 0, false, true, 0},  {{2, 3, 5, 12}, 0, 6, false, true, 0},
        {{2, 3, 5, 12}, 0, 4, true, true, 0},   {{2, 3, 5, 8}, 0, 0, false, false, 2},
        {{2, 5, 2 * 8}, 2, 4, true, false, 1},  {{1, 4, 7, 64}, 0, 0, false, true, 0},
    };
    for (DataType type : kFloatTypes) {
        for (const Case& c : cases) {
            const bool packed = c.x.size() == 3;
            const int64_t batch = c.x[0], seq = packed ? c.x[1] : c.x[2];
            const int64_t head = packed ? c.x[2] / c.numHeads : c.x[3];
            const int64_t half = (c.rotaryDim ? c.rotaryDim : head) / 2;
            const int64_t maxPosition = seq + 6;
            Tensor x = test::randomTensor(type, c.x, -2.0, 2.0, seed++);
            const Shape cacheShape = c.positions ? Shape{maxPosition, half} : Shape{c.cacheBatch, seq, half};
            Tensor cosCache = test::randomTensor(type, cacheShape, -1.0, 1.0, seed++);
            Tensor sinCache = test::randomTensor(type, cacheShape, -1.0, 1.0, seed++);
            Tensor positions = test::randomTensor(DataType::kINT64, {batch, seq}, 0.0, double(maxPosition), seed++);
            AttributeMap attrs;
            if (c.numHeads) attrs.set("num_heads", c.numHeads);
            if (c.rotaryDim) attrs.set("rotary_embedding_dim", c.rotaryDim);
            if (c.interleaved) attrs.set("interleaved", int64_t{1});
            std::vector<const Tensor*> inputs = {&x, &cosCache, &sinCache};
            if (c.positions) inputs.push_back(&positions);
            expectOutputsMatchCpu(*mBackend, mStream, "RotaryEmbedding", inputs, 1, attrs, toleranceOf(type),
                                  "RotaryEmbedding " + shapeLabel(c.x) + " " + dataTypeName(type));
        }
    }
}

TEST_F(CudaSequenceOpsTest, SwiGLUMatchesCpu) {
    uint32_t seed = 100;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
        for (float alpha : {1.0f, 1.702f}) {
            // Wide range: the sigmoid's large-|x| tails must not overflow.
            Tensor a = test::randomTensor(type, {3, 7, 33}, -30.0, 30.0, seed++);
            Tensor b = test::randomTensor(type, {3, 7, 33}, -2.0, 2.0, seed++);
            AttributeMap attrs;
            attrs.set("alpha", alpha);
            const Tolerance tol = type == DataType::kDOUBLE ? Tolerance{1e-12, 1e-12} : toleranceOf(type);
            expectOutputsMatchCpu(*mBackend, mStream, "SwiGLU", {&a, &b}, 1, attrs, tol,
                                  std::string("SwiGLU ") + dataTypeName(type));
        }
    }
}

TEST_F(CudaSequenceOpsTest, TensorScatterMatchesCpu) {
    uint32_t seed = 200;
    struct Case {
        Shape cache, update;
        int64_t axis;
        bool circular;
        std::vector<int64_t> indices;  // empty: none
    };
    const std::vector<Case> cases = {
        {{2, 3, 8, 4}, {2, 3, 2, 4}, -2, false, {1, 6}},
        {{2, 3, 8, 4}, {2, 3, 3, 4}, 2, true, {6, 7}},
        {{2, 8, 5}, {2, 3, 5}, 1, false, {}},
        {{3, 10}, {3, 4}, -1, true, {8, -3, 2}},
        {{2, 4, 6, 2, 3}, {2, 4, 6, 1, 3}, 3, false, {0, 1}},
    };
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8}) {
        for (const Case& c : cases) {
            Tensor cache = test::randomTensor(type, c.cache, 1.0, 50.0, seed++);
            Tensor update = test::randomTensor(type, c.update, 60.0, 99.0, seed++);
            Tensor indices = Tensor::fromInt64(c.indices, {static_cast<int64_t>(c.indices.size())});
            AttributeMap attrs;
            attrs.set("axis", c.axis);
            if (c.circular) attrs.set("mode", std::string("circular"));
            std::vector<const Tensor*> inputs = {&cache, &update};
            if (!c.indices.empty()) inputs.push_back(&indices);
            expectOutputsMatchCpu(*mBackend, mStream, "TensorScatter", inputs, 1, attrs, {0.0, 0.0},
                                  "TensorScatter " + shapeLabel(c.cache) + " " + dataTypeName(type));
        }
    }
}

TEST_F(CudaSequenceOpsTest, LinearAttentionMatchesCpu) {
    uint32_t seed = 300;
    struct Case {
        std::string rule;
        int64_t batch, time, qHeads, kvHeads, dk, dv;
        bool decayPerHead;
        bool betaShared;  // beta (B, T, 1)
        bool past, present;
        float scale;  // 0: default
    };
    const std::vector<Case> cases = {
        {"linear", 2, 5, 2, 2, 8, 6, false, false, false, false, 0.f},
        {"linear", 1, 1, 2, 2, 8, 8, false, false, true, true, 0.5f},
        {"gated", 2, 4, 2, 2, 8, 4, false, false, true, true, 0.f},
        {"gated", 2, 4, 4, 2, 8, 4, true, false, false, true, 0.f},
        {"delta", 2, 6, 2, 2, 4, 8, false, false, true, false, 0.f},
        {"gated_delta", 2, 5, 4, 2, 8, 8, false, false, true, true, 0.f},
        {"gated_delta", 1, 3, 4, 1, 8, 8, true, true, true, true, 0.f},
        {"gated_delta", 1, 3, 2, 2, 128, 128, false, false, true, true, 0.f},  // state beyond shared memory
    };
    for (DataType type : kFloatTypes) {
        for (const Case& c : cases) {
            const bool gated = c.rule == "gated" || c.rule == "gated_delta";
            const bool delta = c.rule == "delta" || c.rule == "gated_delta";
            // Keys normalized-ish and decays negative, as models feed them: the recurrence stays bounded.
            const double keyRange = 1.0 / std::sqrt(static_cast<double>(c.dk));
            Tensor q = test::randomTensor(type, {c.batch, c.time, c.qHeads * c.dk}, -1.0, 1.0, seed++);
            Tensor k = test::randomTensor(type, {c.batch, c.time, c.kvHeads * c.dk}, -keyRange, keyRange, seed++);
            Tensor v = test::randomTensor(type, {c.batch, c.time, c.kvHeads * c.dv}, -1.0, 1.0, seed++);
            Tensor past = test::randomTensor(type, {c.batch, c.kvHeads, c.dk, c.dv}, -0.5, 0.5, seed++);
            Tensor decay = test::randomTensor(
                type, c.decayPerHead ? Shape{c.batch, c.time, c.kvHeads} : Shape{c.batch, c.time, c.kvHeads * c.dk},
                -0.5, -0.01, seed++);
            Tensor beta = test::randomTensor(type, {c.batch, c.time, c.betaShared ? 1 : c.kvHeads}, 0.1, 0.9, seed++);
            AttributeMap attrs;
            attrs.set("update_rule", c.rule);
            attrs.set("q_num_heads", c.qHeads);
            attrs.set("kv_num_heads", c.kvHeads);
            if (c.scale != 0.f) attrs.set("scale", c.scale);
            std::vector<const Tensor*> inputs = {&q, &k, &v, c.past ? &past : nullptr, gated ? &decay : nullptr,
                                                 delta ? &beta : nullptr};
            while (inputs.back() == nullptr) inputs.pop_back();
            const std::string label = "LinearAttention " + c.rule + " dk " + std::to_string(c.dk) + " " +
                                      dataTypeName(type);
            Tolerance tol = toleranceOf(type);
            if (type != DataType::kFLOAT) tol.atol *= 5;  // the recurrence carries rounded inputs over many sums
            expectOutputsMatchCpu(*mBackend, mStream, "LinearAttention", inputs, c.present ? 2 : 1, attrs, tol, label);
        }
    }
}

TEST_F(CudaSequenceOpsTest, CausalConvWithStateMatchesCpu) {
    uint32_t seed = 400;
    struct Case {
        int64_t batch, channels, length, kernel;
        bool bias, past, present;
        std::string activation;
    };
    const std::vector<Case> cases = {
        {2, 3, 7, 4, false, false, false, "none"}, {2, 3, 7, 4, true, true, true, "silu"},
        {1, 1, 1, 4, false, true, true, "swish"},  {2, 5, 3, 1, true, false, false, "none"},
        {1, 4, 2, 5, true, true, true, "none"},    {3, 64, 33, 4, true, true, true, "silu"},
    };
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
        for (const Case& c : cases) {
            Tensor x = test::randomTensor(type, {c.batch, c.channels, c.length}, -1.0, 1.0, seed++);
            Tensor w = test::randomTensor(type, {c.channels, 1, c.kernel}, -1.0, 1.0, seed++);
            Tensor bias = test::randomTensor(type, {c.channels}, -0.5, 0.5, seed++);
            Tensor past = test::randomTensor(type, {c.batch, c.channels, c.kernel - 1}, -1.0, 1.0, seed++);
            AttributeMap attrs;
            attrs.set("activation", c.activation);
            std::vector<const Tensor*> inputs = {&x, &w, c.bias ? &bias : nullptr, c.past ? &past : nullptr};
            while (inputs.back() == nullptr) inputs.pop_back();
            const Tolerance tol = type == DataType::kDOUBLE ? Tolerance{1e-12, 1e-12} : toleranceOf(type);
            expectOutputsMatchCpu(*mBackend, mStream, "CausalConvWithState", inputs, c.present ? 2 : 1, attrs, tol,
                                  "CausalConvWithState k " + std::to_string(c.kernel) + " " + dataTypeName(type));
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
