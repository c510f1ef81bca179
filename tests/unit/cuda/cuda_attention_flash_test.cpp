// Kiln's flash attention (backends/cuda/kernels/attention_flash.h), chosen as the CUDA Attention's tactic
// (kTacticAttribute {2}), in float16 and bfloat16 against the CPU backend's Attention on random data, at
// the edges of its tiles and masks: sequences of 1 and of lengths no multiple of its 64-row tiles (keys
// over several steps of the running softmax), head sizes 64 and 128, causal frontiers with fewer and with
// more queries than keys, grouped-query heads in 3-D layouts, masks of every type it reads (bool, float,
// float16, bfloat16) by every broadcast ([B,1,1,S], [B,H,S_q,S_kv], [S_q,S_kv]), one shorter than the keys,
// and rows no key may attend (zeros, as ONNX says). A flash choice where the kernel cannot run (head size
// 80) falls back to cuDNN's default plan, and a misaligned Q runs the row kernel.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "cuda_reference_outputs.h"
#include "kernel_rig.h"

namespace kiln::cudatest {
namespace {

using CudaAttentionFlashTest = CudaTest;

constexpr int64_t kFlashKernelState = 2;  // attention.cu's kFlashKernelTactic

struct FlashCase {
    std::string name;
    Shape q, k, v;
    int64_t qHeads{0}, kvHeads{0};  // 3-D inputs
    Shape mask;                     // empty: none
    DataType maskType{DataType::kFLOAT};
    bool causal{false};
};

AttributeMap flashAttrs(const FlashCase& c) {
    AttributeMap attrs;
    if (c.qHeads) {
        attrs.set("q_num_heads", c.qHeads);
        attrs.set("kv_num_heads", c.kvHeads);
    }
    if (c.causal) attrs.set("is_causal", int64_t{1});
    attrs.set(kTacticAttribute, std::vector<int64_t>{kFlashKernelState});
    return attrs;
}

/// Random additive values, a quarter of them "masked" (-inf, or false for bool), never key 0 of a row.
Tensor randomMask(const Shape& shape, DataType type, uint32_t seed) {
    if (type == DataType::kBOOL) {
        Tensor mask = test::randomTensor(DataType::kBOOL, shape, 0.0, 1.6, seed);
        for (int64_t e = 0; e < mask.elementCount(); e += shape.back()) mask.data<bool>()[e] = true;
        return mask;
    }
    Tensor values = test::randomTensor(DataType::kFLOAT, shape, -2.0, 0.5, seed);
    for (int64_t e = 0; e < values.elementCount(); ++e)
        if (e % shape.back() != 0 && e % 4 == 1) values.data<float>()[e] = -INFINITY;
    return type == DataType::kFLOAT ? values : convertTensor(values, type);
}

void expectFlashMatchesCpu(Backend& backend, Stream stream, const FlashCase& c, DataType type, uint32_t seed) {
    const std::string label = c.name + " " + dataTypeName(type);
    const Tensor q = test::randomTensor(type, c.q, -1.0, 1.0, seed);
    const Tensor k = test::randomTensor(type, c.k, -1.0, 1.0, seed + 1);
    const Tensor v = test::randomTensor(type, c.v, -1.0, 1.0, seed + 2);
    const Tensor mask = c.mask.empty() ? Tensor() : randomMask(c.mask, c.maskType, seed + 3);
    std::vector<const Tensor*> inputs = {&q, &k, &v};
    if (!c.mask.empty()) inputs.push_back(&mask);
    const AttributeMap attrs = flashAttrs(c);
    std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, attrs);
    ASSERT_EQ(reference.size(), 1u) << label;
    KernelRig rig(backend, stream, "Attention", "", inputs, type, reference[0].shape());
    auto kernel = rig.kernel(attrs);
    ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
    EXPECT_NE((*kernel)->tacticName().find("flash_attention"), std::string::npos)
        << label << ": " << (*kernel)->tacticName();
    auto out = rig.run(**kernel);
    ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
    const Tolerance tol = toleranceOf(type);
    EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "") << label;
}

FlashCase flashCase(std::string name, Shape q, Shape kv) {
    FlashCase c;
    c.name = std::move(name);
    c.q = std::move(q);
    c.k = kv;
    c.v = std::move(kv);
    return c;
}

TEST_F(CudaAttentionFlashTest, TileEdgesMasksAndFrontiersMatchCpu) {
    std::vector<FlashCase> cases;
    cases.push_back(flashCase("one query, one key", {2, 3, 1, 64}, {2, 3, 1, 64}));
    cases.push_back(flashCase("77 queries, 200 keys", {1, 4, 77, 64}, {1, 4, 200, 64}));
    cases.push_back(flashCase("head 128, 300 keys", {1, 2, 65, 128}, {1, 2, 300, 128}));
    FlashCase bert = flashCase("bert float16 padding mask [B,1,1,S]", {2, 12, 128, 64}, {2, 12, 128, 64});
    bert.mask = {2, 1, 1, 128};
    bert.maskType = DataType::kHALF;
    cases.push_back(bert);
    FlashCase full = flashCase("float mask [B,H,S_q,S_kv]", {2, 3, 70, 64}, {2, 3, 90, 64});
    full.mask = {2, 3, 70, 90};
    cases.push_back(full);
    FlashCase bf = flashCase("bfloat16 mask [S_q,S_kv]", {1, 2, 33, 128}, {1, 2, 129, 128});
    bf.mask = {33, 129};
    bf.maskType = DataType::kBF16;
    cases.push_back(bf);
    FlashCase shortMask = flashCase("bool mask shorter than the keys", {2, 2, 40, 64}, {2, 2, 100, 64});
    shortMask.mask = {2, 1, 40, 70};
    shortMask.maskType = DataType::kBOOL;
    cases.push_back(shortMask);
    FlashCase causal = flashCase("causal, 130 rows, head 128", {1, 2, 130, 128}, {1, 2, 130, 128});
    causal.causal = true;
    cases.push_back(causal);
    FlashCase fewer = flashCase("causal, fewer queries than keys", {1, 2, 40, 64}, {1, 2, 100, 64});
    fewer.causal = true;
    cases.push_back(fewer);
    FlashCase more = flashCase("causal, more queries than keys, masked", {1, 2, 100, 64}, {1, 2, 40, 64});
    more.causal = true;
    more.mask = {1, 1, 100, 40};
    cases.push_back(more);
    FlashCase grouped = flashCase("3-D grouped-query heads", {2, 50, 8 * 64}, {2, 70, 2 * 64});
    grouped.qHeads = 8;
    grouped.kvHeads = 2;
    cases.push_back(grouped);
    uint32_t seed = 7100;
    for (DataType type : {DataType::kHALF, DataType::kBF16})
        for (const FlashCase& c : cases) {
            expectFlashMatchesCpu(*mBackend, mStream, c, type, seed);
            seed += 4;
        }
}

TEST_F(CudaAttentionFlashTest, RowsWithoutKeysGiveZeros) {
    // Row 1 keeps no key; with is_causal row 0 keeps key 0 alone, which the mask drops.
    const int64_t rows = 70, keys = 90;
    for (bool causal : {false, true}) {
        const std::string label = causal ? "causal" : "not causal";
        const Tensor q = test::randomTensor(DataType::kHALF, {1, 2, rows, 64}, -1.0, 1.0, 41);
        const Tensor k = test::randomTensor(DataType::kHALF, {1, 2, keys, 64}, -1.0, 1.0, 42);
        const Tensor v = test::randomTensor(DataType::kHALF, {1, 2, keys, 64}, -1.0, 1.0, 43);
        Tensor mask = Tensor::allocate(DataType::kBOOL, {rows, keys});
        for (int64_t e = 0; e < rows * keys; ++e) mask.data<bool>()[e] = e / keys != 1 && e % keys != 0;
        std::vector<const Tensor*> inputs = {&q, &k, &v, &mask};
        FlashCase c;
        c.causal = causal;
        const AttributeMap attrs = flashAttrs(c);
        std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, attrs);
        ASSERT_EQ(reference.size(), 1u) << label;
        KernelRig rig(*mBackend, mStream, "Attention", "", inputs, DataType::kHALF, reference[0].shape());
        auto kernel = rig.kernel(attrs);
        ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
        auto out = rig.run(**kernel);
        ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
        for (int64_t head = 0; head < 2; ++head)
            for (int64_t i : {int64_t{0}, int64_t{1}}) {
                if (i == 0 && !causal) continue;
                for (int64_t d = 0; d < 64; ++d)
                    EXPECT_EQ(out->elementAsDouble((head * rows + i) * 64 + d), 0.0) << label << " row " << i;
            }
        const Tolerance tol = toleranceOf(DataType::kHALF);
        EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "") << label;
    }
}

TEST_F(CudaAttentionFlashTest, AFlashChoiceItCannotRunFallsBack) {
    // Head size 80: the flash state is no choice, cuDNN's default plan runs. A Q two bytes past a 16-byte
    // boundary: the flash kernel is chosen but the row kernel runs that call.
    for (int64_t head : {80, 64}) {
        const size_t offset = head == 64 ? 2 : 0;
        const std::string label = "head " + std::to_string(head);
        const Tensor q = test::randomTensor(DataType::kHALF, {1, 4, 32, head}, -1.0, 1.0, 51);
        const Tensor k = test::randomTensor(DataType::kHALF, {1, 4, 32, head}, -1.0, 1.0, 52);
        const Tensor v = test::randomTensor(DataType::kHALF, {1, 4, 32, head}, -1.0, 1.0, 53);
        std::vector<const Tensor*> inputs = {&q, &k, &v};
        const AttributeMap attrs = flashAttrs(FlashCase{});
        std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, attrs);
        ASSERT_EQ(reference.size(), 1u) << label;
        KernelRig rig(*mBackend, mStream, "Attention", "", inputs, DataType::kHALF, reference[0].shape(), offset);
        auto kernel = rig.kernel(attrs);
        ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
        const std::string expected = head == 64 ? "flash_attention" : "cudnn_sdpa";
        EXPECT_NE((*kernel)->tacticName().find(expected), std::string::npos) << label << ": " << (*kernel)->tacticName();
        auto out = rig.run(**kernel);
        ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
        const Tolerance tol = toleranceOf(DataType::kHALF);
        EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "") << label;
    }
}

}  // namespace
}  // namespace kiln::cudatest
