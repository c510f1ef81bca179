// The CUDA Attention against the CPU backend's on random data, in float, float16 and bfloat16: every
// form the ONNX operator has (3-D and 4-D layouts, grouped-query heads, bool / float / float16 masks of
// rank 1 to 4 and masks shorter than the keys, causal, KV cache with present outputs, nonpad_kv_seqlen,
// sliding windows, softcap, scale, qk_matmul_output at its four stages, softmax_precision double, fully
// masked rows, a key row too long for the default shared memory), every output compared.

#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "cuda_reference_outputs.h"

namespace kiln::cudatest {
namespace {

using CudaAttentionTest = CudaTest;

struct AttentionCase {
    std::string name;
    Shape q, k, v;
    int64_t qHeads{0}, kvHeads{0};  // for 3-D inputs
    Shape mask;                     // empty: none
    DataType maskType{DataType::kFLOAT};
    Shape past;  // past_key / past_value shape; empty: no cache
    std::vector<int64_t> nonpad;  // empty: none
    size_t outputs{1};            // 1: Y; 3: + present_key/value; 4: + qk_matmul_output
    AttributeMap attrs;
};

AttributeMap attrsOf(std::initializer_list<std::pair<const char*, int64_t>> ints, std::optional<float> scale = {},
                     std::optional<float> softcap = {}) {
    AttributeMap attrs;
    for (const auto& [name, value] : ints) attrs.set(name, value);
    if (scale) attrs.set("scale", *scale);
    if (softcap) attrs.set("softcap", *softcap);
    return attrs;
}

std::vector<AttentionCase> attentionCases() {
    std::vector<AttentionCase> cases;
    auto add = [&](AttentionCase c) { cases.push_back(std::move(c)); };
    add({"4d plain", {2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 6}});
    add({"4d scaled", {1, 2, 4, 16}, {1, 2, 4, 16}, {1, 2, 4, 16}, 0, 0, {}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({}, 0.3f)});
    add({"3d gqa", {2, 5, 4 * 8}, {2, 6, 2 * 8}, {2, 6, 2 * 4}, 4, 2});
    add({"3d causal", {1, 6, 3 * 8}, {1, 6, 3 * 8}, {1, 6, 3 * 8}, 3, 3, {}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({{"is_causal", 1}})});
    add({"4d float mask 2d", {2, 2, 4, 8}, {2, 2, 6, 8}, {2, 2, 6, 8}, 0, 0, {4, 6}, DataType::kFLOAT});
    add({"4d float mask 4d bcast", {2, 4, 3, 8}, {2, 2, 5, 8}, {2, 2, 5, 8}, 0, 0, {2, 1, 3, 5}, DataType::kFLOAT});
    add({"4d bool mask 3d", {2, 2, 4, 8}, {2, 2, 4, 8}, {2, 2, 4, 8}, 0, 0, {2, 4, 4}, DataType::kBOOL});
    add({"4d bool mask rank 1", {1, 2, 3, 8}, {1, 2, 5, 8}, {1, 2, 5, 8}, 0, 0, {5}, DataType::kBOOL});
    add({"4d float16 mask", {1, 2, 3, 8}, {1, 2, 5, 8}, {1, 2, 5, 8}, 0, 0, {3, 5}, DataType::kHALF});
    add({"padded mask (shorter than keys)", {1, 2, 3, 8}, {1, 2, 7, 8}, {1, 2, 7, 8}, 0, 0, {3, 4}, DataType::kFLOAT});
    add({"mask + causal", {2, 2, 4, 8}, {2, 2, 4, 8}, {2, 2, 4, 8}, 0, 0, {2, 2, 4, 4}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({{"is_causal", 1}})});
    add({"kv cache", {2, 3, 4, 8}, {2, 3, 2, 8}, {2, 3, 2, 8}, 0, 0, {}, DataType::kFLOAT, {2, 3, 5, 8}, {}, 3});
    add({"kv cache causal gqa mask", {2, 6, 3, 8}, {2, 2, 3, 8}, {2, 2, 3, 8}, 0, 0, {3, 8}, DataType::kFLOAT,
         {2, 2, 5, 8}, {}, 3, attrsOf({{"is_causal", 1}})});
    add({"3d kv cache", {1, 4, 2 * 8}, {1, 4, 2 * 8}, {1, 4, 2 * 8}, 2, 2, {}, DataType::kFLOAT, {1, 2, 3, 8}, {}, 3});
    add({"present without past", {1, 2, 3, 8}, {1, 2, 3, 8}, {1, 2, 3, 8}, 0, 0, {}, DataType::kFLOAT, {}, {}, 3});
    add({"nonpad causal", {2, 2, 3, 8}, {2, 2, 8, 8}, {2, 2, 8, 8}, 0, 0, {}, DataType::kFLOAT, {}, {8, 5}, 1,
         attrsOf({{"is_causal", 1}})});
    add({"nonpad decode gqa + mask + window", {2, 4, 1, 8}, {2, 2, 9, 8}, {2, 2, 9, 8}, 0, 0, {1, 9},
         DataType::kFLOAT, {}, {9, 4}, 1, attrsOf({{"is_causal", 1}, {"left_window_size", 3}})});
    add({"nonpad shorter than queries", {1, 2, 4, 8}, {1, 2, 4, 8}, {1, 2, 4, 8}, 0, 0, {}, DataType::kFLOAT, {}, {2},
         1, attrsOf({{"is_causal", 1}})});
    add({"left window", {1, 2, 6, 8}, {1, 2, 6, 8}, {1, 2, 6, 8}, 0, 0, {}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({{"left_window_size", 2}})});
    add({"bidirectional window", {1, 2, 6, 8}, {1, 2, 6, 8}, {1, 2, 6, 8}, 0, 0, {}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({{"left_window_size", 1}, {"right_window_size", 2}})});
    add({"window with past", {1, 2, 3, 8}, {1, 2, 3, 8}, {1, 2, 3, 8}, 0, 0, {}, DataType::kFLOAT, {1, 2, 4, 8}, {},
         3, attrsOf({{"is_causal", 1}, {"left_window_size", 2}})});
    add({"softcap", {1, 2, 4, 8}, {1, 2, 5, 8}, {1, 2, 5, 8}, 0, 0, {4, 5}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({}, std::nullopt, 1.5f)});
    for (int64_t mode = 0; mode < 4; ++mode)
        add({"qk output mode " + std::to_string(mode), {2, 2, 3, 8}, {2, 2, 4, 8}, {2, 2, 4, 8}, 0, 0, {3, 6},
             DataType::kFLOAT, {2, 2, 2, 8}, {}, 4, attrsOf({{"qk_matmul_output_mode", mode}}, std::nullopt, 2.0f)});
    add({"softmax precision double", {1, 2, 4, 8}, {1, 2, 6, 8}, {1, 2, 6, 8}, 0, 0, {}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({{"softmax_precision", 11}})});
    add({"long key row", {1, 1, 2, 16}, {1, 1, 20000, 16}, {1, 1, 20000, 16}, 0, 0, {}, DataType::kFLOAT});
    add({"3d bfloat16 mask", {1, 4, 2 * 8}, {1, 5, 2 * 8}, {1, 5, 2 * 8}, 2, 2, {4, 5}, DataType::kBF16});
    add({"gpt2 causal", {1, 12, 64, 64}, {1, 12, 64, 64}, {1, 12, 64, 64}, 0, 0, {}, DataType::kFLOAT, {}, {}, 1,
         attrsOf({{"is_causal", 1}})});
    add({"bert", {2, 12, 16, 64}, {2, 12, 16, 64}, {2, 12, 16, 64}, 0, 0, {2, 1, 1, 16}, DataType::kFLOAT});
    return cases;
}

/// Inputs of one case in `type` (Q, K, V, the cache) with the mask in its own type.
struct AttentionInputs {
    Tensor q, k, v, mask, pastKey, pastValue, nonpad;
    std::vector<const Tensor*> list;
};

AttentionInputs makeInputs(const AttentionCase& c, DataType type, uint32_t& seed) {
    AttentionInputs in;
    in.q = test::randomTensor(type, c.q, -1.0, 1.0, seed++);
    in.k = test::randomTensor(type, c.k, -1.0, 1.0, seed++);
    in.v = test::randomTensor(type, c.v, -1.0, 1.0, seed++);
    in.list = {&in.q, &in.k, &in.v};
    if (!c.mask.empty()) {
        in.mask = c.maskType == DataType::kBOOL ? test::randomTensor(DataType::kBOOL, c.mask, 0.0, 1.6, seed++)
                                                : test::randomTensor(c.maskType, c.mask, -2.0, 0.5, seed++);
        in.list.push_back(&in.mask);
    } else if (!c.past.empty() || !c.nonpad.empty()) {
        in.list.push_back(nullptr);
    }
    if (!c.past.empty()) {
        Shape pastValue = c.past;
        pastValue.back() = c.v.size() == 4 ? c.v[3] : c.v[2] / c.kvHeads;
        in.pastKey = test::randomTensor(type, c.past, -1.0, 1.0, seed++);
        in.pastValue = test::randomTensor(type, pastValue, -1.0, 1.0, seed++);
        in.list.push_back(&in.pastKey);
        in.list.push_back(&in.pastValue);
    } else if (!c.nonpad.empty()) {
        in.list.push_back(nullptr);
        in.list.push_back(nullptr);
    }
    if (!c.nonpad.empty()) {
        in.nonpad = Tensor::fromInt64(c.nonpad, {static_cast<int64_t>(c.nonpad.size())});
        in.list.push_back(&in.nonpad);
    }
    return in;
}

TEST_F(CudaAttentionTest, EveryFormMatchesCpu) {
    uint32_t seed = 1000;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
        for (const AttentionCase& c : attentionCases()) {
            AttributeMap attrs = c.attrs;
            if (c.qHeads) {
                attrs.set("q_num_heads", c.qHeads);
                attrs.set("kv_num_heads", c.kvHeads);
            }
            AttentionInputs in = makeInputs(c, type, seed);
            expectOutputsMatchCpu(*mBackend, mStream, "Attention", in.list, c.outputs, attrs, toleranceOf(type),
                                  c.name + " " + dataTypeName(type));
        }
    }
}

TEST_F(CudaAttentionTest, FullyMaskedRowsGiveZeros) {
    // Row 1 of the bool mask keeps no key: ONNX gives it zero probabilities, so Y's row is zero; the
    // other rows keep some keys. The float mask's -inf row does the same.
    for (DataType maskType : {DataType::kBOOL, DataType::kFLOAT}) {
        Tensor q = test::randomTensor(DataType::kFLOAT, {1, 2, 3, 8}, -1.0, 1.0, 1);
        Tensor k = test::randomTensor(DataType::kFLOAT, {1, 2, 4, 8}, -1.0, 1.0, 2);
        Tensor v = test::randomTensor(DataType::kFLOAT, {1, 2, 4, 8}, -1.0, 1.0, 3);
        Tensor mask = Tensor::allocate(maskType, {3, 4});
        for (int64_t i = 0; i < 12; ++i) {
            const bool keep = i / 4 != 1 && i % 2 == 0;
            if (maskType == DataType::kBOOL)
                mask.data<bool>()[i] = keep;
            else
                mask.data<float>()[i] = keep ? 0.5f : -INFINITY;
        }
        std::vector<const Tensor*> inputs = {&q, &k, &v, &mask};
        std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, {});
        ASSERT_EQ(reference.size(), 1u);
        auto gpu = runOnCuda(*mBackend, mStream, "Attention", inputs, {DataType::kFLOAT}, {reference[0].shape()}, {});
        ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
        const Tensor& y = gpu->outputs[0];
        for (int64_t h = 0; h < 2; ++h)
            for (int64_t d = 0; d < 8; ++d) EXPECT_EQ(y.data<float>()[(h * 3 + 1) * 8 + d], 0.0f) << "head " << h;
        EXPECT_EQ(test::compareWithReference(y, reference[0].toDoubleVector(), 1e-5, 1e-6), "");
    }
}

TEST_F(CudaAttentionTest, RefusesWhatItDoesNotImplement) {
    // float64 Q/K/V: the kernel computes in float and would lose precision; the support check says so.
    Tensor q = test::randomTensor(DataType::kDOUBLE, {1, 1, 2, 4}, -1.0, 1.0, 1);
    auto result = runOnCuda(*mBackend, mStream, "Attention", {&q, &q, &q}, {DataType::kDOUBLE}, {{1, 1, 2, 4}}, {});
    ASSERT_FALSE(result.isOk());
    EXPECT_NE(result.status().message().find("double"), std::string::npos) << result.status().message();
}

TEST_F(CudaAttentionTest, BadShapesAreErrors) {
    Tensor q = test::randomTensor(DataType::kFLOAT, {1, 2, 3, 8}, -1.0, 1.0, 1);
    Tensor k = test::randomTensor(DataType::kFLOAT, {1, 2, 4, 6}, -1.0, 1.0, 2);  // head size differs from Q's
    auto result = runOnCuda(*mBackend, mStream, "Attention", {&q, &k, &k}, {DataType::kFLOAT}, {{1, 2, 3, 6}}, {});
    ASSERT_FALSE(result.isOk());
    EXPECT_NE(result.status().message().find("do not fit"), std::string::npos) << result.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
