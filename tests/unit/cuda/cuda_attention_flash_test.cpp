// Kiln's flash attention (backends/cuda/kernels/attention_flash.h), each of its two forms chosen as the
// CUDA Attention's tactic (kTacticAttribute {2}: tiled, {3}: persistent), in float16 and bfloat16 against
// the CPU backend's Attention on random data, at the edges of its tiles and masks: sequences of 1 and of
// lengths no multiple of its 64-row tiles (keys over several steps of the running softmax), head sizes 64
// and 128, causal frontiers with fewer and with more queries than keys, grouped-query heads in 3-D
// layouts, masks of every type it reads (bool, float, float16, bfloat16) by every broadcast ([B,1,1,S],
// [B,H,S_q,S_kv], [S_q,S_kv]), one shorter than the keys, and rows no key may attend (zeros, as ONNX
// says). Problems with more query tiles than an H200 holds blocks make the persistent form's blocks walk
// several items each, and where the backend is linked its grid is also forced down to 1, 3 and 7 blocks
// (every block walks many items, of uneven key steps, through both buffers). A flash choice where the
// kernel cannot run (head size 80) falls back to cuDNN's default plan, and a misaligned Q runs the row
// kernel.

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include "backends/attention_layout.h"
#include "backends/cuda/kernels/attention_flash.h"
#endif
#include "cuda_reference_outputs.h"
#include "kernel_rig.h"

namespace kiln::cudatest {
namespace {

using CudaAttentionFlashTest = CudaTest;

constexpr int64_t kFlashKernelState = 2;            // attention.cu's kFlashKernelTactic (the tiled form)
constexpr int64_t kFlashPersistentKernelState = 3;  // and kFlashPersistentKernelTactic
constexpr int64_t kFlashStates[] = {kFlashKernelState, kFlashPersistentKernelState};

std::string formOf(int64_t state) {
    return state == kFlashPersistentKernelState ? "persistent" : "tiled";
}

/// Whether the kernel's tactic name says the flash form of `state` runs.
bool namesForm(const std::string& tactic, int64_t state) {
    const bool persistent = tactic.find("flash_attention_persistent") != std::string::npos;
    return tactic.find("flash_attention") != std::string::npos && persistent == (state == kFlashPersistentKernelState);
}

struct FlashCase {
    std::string name;
    Shape q, k, v;
    int64_t qHeads{0}, kvHeads{0};  // 3-D inputs
    Shape mask;                     // empty: none
    DataType maskType{DataType::kFLOAT};
    bool causal{false};
};

AttributeMap flashAttrs(const FlashCase& c, int64_t state = kFlashKernelState) {
    AttributeMap attrs;
    if (c.qHeads) {
        attrs.set("q_num_heads", c.qHeads);
        attrs.set("kv_num_heads", c.kvHeads);
    }
    if (c.causal) attrs.set("is_causal", int64_t{1});
    attrs.set(kTacticAttribute, std::vector<int64_t>{state});
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

/// Both flash forms chosen in turn, each against one CPU reference.
void expectFlashMatchesCpu(Backend& backend, Stream stream, const FlashCase& c, DataType type, uint32_t seed) {
    const std::string caseLabel = c.name + " " + dataTypeName(type);
    const Tensor q = test::randomTensor(type, c.q, -1.0, 1.0, seed);
    const Tensor k = test::randomTensor(type, c.k, -1.0, 1.0, seed + 1);
    const Tensor v = test::randomTensor(type, c.v, -1.0, 1.0, seed + 2);
    const Tensor mask = c.mask.empty() ? Tensor() : randomMask(c.mask, c.maskType, seed + 3);
    std::vector<const Tensor*> inputs = {&q, &k, &v};
    if (!c.mask.empty()) inputs.push_back(&mask);
    std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, flashAttrs(c));
    ASSERT_EQ(reference.size(), 1u) << caseLabel;
    const std::vector<double> expected = reference[0].toDoubleVector();
    KernelRig rig(backend, stream, "Attention", "", inputs, type, reference[0].shape());
    for (int64_t state : kFlashStates) {
        const std::string label = caseLabel + " (" + formOf(state) + ")";
        auto kernel = rig.kernel(flashAttrs(c, state));
        ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
        EXPECT_TRUE(namesForm((*kernel)->tacticName(), state)) << label << ": " << (*kernel)->tacticName();
        auto out = rig.run(**kernel);
        ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
        const Tolerance tol = toleranceOf(type);
        EXPECT_EQ(test::compareWithReference(*out, expected, tol.rtol, tol.atol), "") << label;
    }
}

FlashCase flashCase(std::string name, Shape q, Shape kv) {
    FlashCase c;
    c.name = std::move(name);
    c.q = std::move(q);
    c.k = kv;
    c.v = std::move(kv);
    return c;
}

FlashCase masked(FlashCase c, Shape mask, DataType type) {
    c.mask = std::move(mask);
    c.maskType = type;
    return c;
}

TEST_F(CudaAttentionFlashTest, TileEdgesMasksAndFrontiersMatchCpu) {
    std::vector<FlashCase> cases;
    cases.push_back(flashCase("one query, one key", {2, 3, 1, 64}, {2, 3, 1, 64}));
    cases.push_back(flashCase("77 queries, 200 keys", {1, 4, 77, 64}, {1, 4, 200, 64}));
    cases.push_back(flashCase("head 128, 300 keys", {1, 2, 65, 128}, {1, 2, 300, 128}));
    cases.push_back(masked(flashCase("bert float16 padding mask [B,1,1,S]", {2, 12, 128, 64}, {2, 12, 128, 64}),
                           {2, 1, 1, 128}, DataType::kHALF));
    // A key-padding mask (one row for every query) is staged a key step at a time, read by its element type:
    // bool, float and bfloat16 here, float16 above; the bool one ends before the keys do.
    cases.push_back(
        masked(flashCase("bool padding mask [B,1,1,S], shorter than the keys", {2, 3, 70, 64}, {2, 3, 150, 64}),
               {2, 1, 1, 130}, DataType::kBOOL));
    cases.push_back(masked(flashCase("float padding mask [B,1,1,S]", {2, 3, 70, 64}, {2, 3, 150, 64}), {2, 1, 1, 150},
                           DataType::kFLOAT));
    cases.push_back(
        masked(flashCase("bfloat16 padding mask [S]", {2, 3, 70, 128}, {2, 3, 150, 128}), {150}, DataType::kBF16));
    cases.push_back(masked(flashCase("float mask [B,H,S_q,S_kv]", {2, 3, 70, 64}, {2, 3, 90, 64}), {2, 3, 70, 90},
                           DataType::kFLOAT));
    cases.push_back(
        masked(flashCase("bfloat16 mask [S_q,S_kv]", {1, 2, 33, 128}, {1, 2, 129, 128}), {33, 129}, DataType::kBF16));
    cases.push_back(masked(flashCase("bool mask shorter than the keys", {2, 2, 40, 64}, {2, 2, 100, 64}),
                           {2, 1, 40, 70}, DataType::kBOOL));
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
    // More items (batch, head, 64-row tile) than an H200's 132 SMs hold persistent blocks (4 an SM at head
    // size 64, 2 at 128): blocks walk 2-3 items, the last tile of each head a part one (200 = 3 x 64 + 8).
    FlashCase many = flashCase("many items, float16 padding mask [B,1,1,S]", {32, 12, 200, 64}, {32, 12, 200, 64});
    many.mask = {32, 1, 1, 200};
    many.maskType = DataType::kHALF;
    cases.push_back(many);
    // And causal: the items' key steps run 1 to 4, so the K/V buffer a walk starts an item in alternates
    // unevenly.
    FlashCase manyCausal = flashCase("many items, causal, grouped, head 128", {16, 8, 200, 128}, {16, 2, 200, 128});
    manyCausal.causal = true;
    cases.push_back(manyCausal);
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
        const Tensor q = test::randomTensor(DataType::kHALF, {1, 2, rows, 64}, -1.0, 1.0, 41);
        const Tensor k = test::randomTensor(DataType::kHALF, {1, 2, keys, 64}, -1.0, 1.0, 42);
        const Tensor v = test::randomTensor(DataType::kHALF, {1, 2, keys, 64}, -1.0, 1.0, 43);
        Tensor mask = Tensor::allocate(DataType::kBOOL, {rows, keys});
        for (int64_t e = 0; e < rows * keys; ++e) mask.data<bool>()[e] = e / keys != 1 && e % keys != 0;
        std::vector<const Tensor*> inputs = {&q, &k, &v, &mask};
        FlashCase c;
        c.causal = causal;
        std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, flashAttrs(c));
        ASSERT_EQ(reference.size(), 1u) << causal;
        KernelRig rig(*mBackend, mStream, "Attention", "", inputs, DataType::kHALF, reference[0].shape());
        for (int64_t state : kFlashStates) {
            const std::string label = std::string(causal ? "causal" : "not causal") + " (" + formOf(state) + ")";
            auto kernel = rig.kernel(flashAttrs(c, state));
            ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
            EXPECT_TRUE(namesForm((*kernel)->tacticName(), state)) << label << ": " << (*kernel)->tacticName();
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
}

TEST_F(CudaAttentionFlashTest, AFlashChoiceItCannotRunFallsBack) {
    // Head size 80: a flash state (either form) is no choice, cuDNN's default plan runs. A Q two bytes past
    // a 16-byte boundary: the flash form is chosen but the row kernel runs that call.
    for (int64_t head : {80, 64}) {
        const size_t offset = head == 64 ? 2 : 0;
        const Tensor q = test::randomTensor(DataType::kHALF, {1, 4, 32, head}, -1.0, 1.0, 51);
        const Tensor k = test::randomTensor(DataType::kHALF, {1, 4, 32, head}, -1.0, 1.0, 52);
        const Tensor v = test::randomTensor(DataType::kHALF, {1, 4, 32, head}, -1.0, 1.0, 53);
        std::vector<const Tensor*> inputs = {&q, &k, &v};
        std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, flashAttrs(FlashCase{}));
        ASSERT_EQ(reference.size(), 1u) << head;
        KernelRig rig(*mBackend, mStream, "Attention", "", inputs, DataType::kHALF, reference[0].shape(), offset);
        for (int64_t state : kFlashStates) {
            const std::string label = "head " + std::to_string(head) + " (" + formOf(state) + ")";
            auto kernel = rig.kernel(flashAttrs(FlashCase{}, state));
            ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
            const std::string tactic = (*kernel)->tacticName();
            if (head == 64)
                EXPECT_TRUE(namesForm(tactic, state)) << label << ": " << tactic;
            else
                EXPECT_NE(tactic.find("cudnn_sdpa"), std::string::npos) << label << ": " << tactic;
            auto out = rig.run(**kernel);
            ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
            const Tolerance tol = toleranceOf(DataType::kHALF);
            EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "") << label;
        }
    }
}

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
TEST_F(CudaAttentionFlashTest, PersistentBlocksWalkManyItems) {
    // The persistent form launched directly on grids far smaller than the device holds: each block walks
    // many items (every one of them at 1 block), their key steps uneven under the causal frontier (1 to 4
    // at 200 rows), so the walk goes through both Q tiles and both K/V buffers in changing order.
    struct WalkCase {
        std::string name;
        Shape q, kv;
        bool causal;
        bool mask;  // a float16 key-padding mask [B,1,1,S]
    };
    const std::vector<WalkCase> cases = {
        {"head 64, causal, padding mask", {2, 3, 200, 64}, {2, 3, 200, 64}, true, true},
        {"head 128, grouped-query, causal", {1, 4, 130, 128}, {1, 2, 130, 128}, true, false},
        {"head 64, 33 queries, 150 keys, padding mask", {3, 2, 33, 64}, {3, 2, 150, 64}, false, true},
    };
    uint32_t seed = 7900;
    for (const WalkCase& c : cases) {
        const Tensor q = test::randomTensor(DataType::kHALF, c.q, -1.0, 1.0, seed++);
        const Tensor k = test::randomTensor(DataType::kHALF, c.kv, -1.0, 1.0, seed++);
        const Tensor v = test::randomTensor(DataType::kHALF, c.kv, -1.0, 1.0, seed++);
        const Shape maskShape = {c.q[0], 1, 1, c.kv[2]};
        const Tensor mask = c.mask ? randomMask(maskShape, DataType::kHALF, seed++) : Tensor();
        std::vector<const Tensor*> inputs = {&q, &k, &v};
        if (c.mask) inputs.push_back(&mask);
        FlashCase attrsCase;
        attrsCase.causal = c.causal;
        std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, flashAttrs(attrsCase));
        ASSERT_EQ(reference.size(), 1u) << c.name;
        const Tensor& expected = reference[0];

        cuda::FlashAttentionProblem problem;
        problem.type = DataType::kHALF;
        problem.q = headLayoutOf(c.q, 0);
        problem.k = headLayoutOf(c.kv, 0);
        problem.v = problem.k;
        problem.y = problem.q;
        problem.group = c.q[1] / c.kv[1];
        problem.scale = 1.f / std::sqrt(static_cast<float>(c.q[3]));
        problem.causal = c.causal;
        if (c.mask) {
            problem.maskType = cuda::MaskType::kHalf;
            problem.maskKeys = c.kv[2];
            problem.maskStrides[0] = c.kv[2];  // [B,1,1,S]: one row a batch, broadcast over heads and queries
        }
        ASSERT_FALSE(cuda::flashAttentionShapeRefusal(problem)) << c.name;
        if (cuda::persistentFlashAttentionRefusal(problem))
            GTEST_SKIP() << *cuda::persistentFlashAttentionRefusal(problem);
        auto prepared = cuda::preparePersistentFlashAttention(problem);
        ASSERT_TRUE(prepared.isOk()) << c.name << ": " << prepared.status().message();

        std::vector<std::unique_ptr<DeviceBuffer>> buffers;
        std::vector<void*> device;
        for (const Tensor* t : inputs) {
            buffers.push_back(std::make_unique<DeviceBuffer>(*mBackend, t->byteSize()));
            device.push_back(buffers.back()->get());
            ASSERT_TRUE(mBackend->copyToDevice(device.back(), t->data(), t->byteSize(), mStream).isOk()) << c.name;
        }
        DeviceBuffer y(*mBackend, expected.byteSize());
        for (unsigned blocks : {1u, 3u, 7u}) {
            const std::string label = c.name + ", " + std::to_string(blocks) + " blocks";
            std::vector<uint8_t> poison(expected.byteSize(), 0xFF);
            ASSERT_TRUE(mBackend->copyToDevice(y.get(), poison.data(), poison.size(), mStream).isOk()) << label;
            const Status launched = cuda::launchPersistentFlashAttention(problem, blocks, device[0], device[1],
                                                                         device[2], c.mask ? device[3] : nullptr,
                                                                         y.get(), static_cast<cudaStream_t>(mStream));
            ASSERT_TRUE(launched.isOk()) << label << ": " << launched.message();
            Tensor out = Tensor::allocate(DataType::kHALF, expected.shape());
            ASSERT_TRUE(mBackend->copyToHost(out.data(), y.get(), out.byteSize(), mStream).isOk()) << label;
            ASSERT_TRUE(mBackend->synchronize(mStream).isOk()) << label;
            const Tolerance tol = toleranceOf(DataType::kHALF);
            EXPECT_EQ(test::compareWithReference(out, expected.toDoubleVector(), tol.rtol, tol.atol), "") << label;
        }
    }
}
#endif

}  // namespace
}  // namespace kiln::cudatest
