// cuDNN's fused attention as tactics of the CUDA Attention (backends/cuda/kernels/attention_cudnn.h), in
// float16 and bfloat16 against the CPU backend's Attention on random data: for BERT-like layers (with a
// 0 / -10000 padding mask and without), causal ones (square and with fewer queries than keys, where
// cuDNN's top-left diagonal must be ONNX's), ViT-like sequences of 197, head sizes 80 and 128, 3-D
// [batch, seq, heads * head] inputs with grouped-query heads, and masks [1, 1, S_q, S_kv] (with -inf
// entries, keys not a multiple of 8), [B, H, S_q, S_kv] (float16) and bool ones:
//  - the builder's trial kernel lists cuDNN's plans first, then Kiln's flash kernel where it computes the
//    node (head sizes 64 and 128, one head size for Q, K and V) in its two forms (tiled, then persistent),
//    and the row kernel last; each gives the reference's result, and the default kernel is cuDNN's;
//  - a chosen plan's tacticState() carried through kTacticAttribute into a new kernel runs that plan;
//    the flash forms' and row kernel's states run those kernels without building cuDNN's graph; stale
//    states fall back to the default plan;
//  - rows no key may attend give zeros, as ONNX says, through the bias cuDNN reads (written per query row,
//    or one row read by every query for a key-padding mask);
//  - a run whose Q is not 16-byte aligned runs the row kernel and still matches;
//  - forms cuDNN is not offered (KV cache, softcap, float32, head size 12, nonpad_kv_seqlen, sliding
//    window, qk_matmul_output, softmax in double) run the row kernel and match.
// Which nodes and shapes cuDNN is offered is checked on the host, so that test runs without a GPU too.

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backends/precision_attributes.h"
#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include "backends/cuda/kernels/attention_cudnn.h"
#endif
#include "backends/tactic_choice.h"
#include "cuda_reference_outputs.h"
#include "kernel_rig.h"

namespace kiln::cudatest {
namespace {

using CudaAttentionCudnnTest = CudaTest;

constexpr int64_t kPlanSearch = 8;
constexpr int64_t kRowKernelState = 1;              // attention.cu's kRowKernelTactic
constexpr int64_t kFlashKernelState = 2;            // kFlashKernelTactic (the tiled form)
constexpr int64_t kFlashPersistentKernelState = 3;  // and kFlashPersistentKernelTactic

enum class MaskKind { kNone, kRandom, kRandomWithInf, kPadding, kBool };

struct SdpaCase {
    std::string name;
    Shape q, k, v;
    int64_t qHeads{0}, kvHeads{0};  // 3-D inputs
    Shape mask;                     // empty: none
    MaskKind maskKind{MaskKind::kNone};
    DataType maskType{DataType::kFLOAT};
    bool causal{false};
    std::optional<float> scale;

    SdpaCase& heads(int64_t query, int64_t keyValue) {
        qHeads = query;
        kvHeads = keyValue;
        return *this;
    }
    SdpaCase& masked(Shape shape, MaskKind kind, DataType type = DataType::kFLOAT) {
        mask = std::move(shape);
        maskKind = kind;
        maskType = type;
        return *this;
    }
    SdpaCase& causally() {
        causal = true;
        return *this;
    }
    SdpaCase& scaled(float value) {
        scale = value;
        return *this;
    }
};

SdpaCase sdpaCase(std::string name, Shape q, Shape k, Shape v) {
    SdpaCase c;
    c.name = std::move(name);
    c.q = std::move(q);
    c.k = std::move(k);
    c.v = std::move(v);
    return c;
}

std::vector<SdpaCase> sdpaCases() {
    const Shape bert = {2, 12, 128, 64};
    const Shape vit = {1, 12, 197, 64};
    return {
        sdpaCase("bert padding mask", bert, bert, bert).masked({2, 1, 1, 128}, MaskKind::kPadding),
        sdpaCase("bert no mask", bert, bert, bert),
        sdpaCase("causal", {2, 8, 96, 64}, {2, 8, 96, 64}, {2, 8, 96, 64}).causally(),
        sdpaCase("causal, fewer queries than keys", {1, 4, 40, 64}, {1, 4, 100, 64}, {1, 4, 100, 64}).causally(),
        sdpaCase("vit seq 197", {2, 12, 197, 64}, {2, 12, 197, 64}, {2, 12, 197, 64}),
        sdpaCase("head 80 scaled", {1, 16, 77, 80}, {1, 16, 77, 80}, {1, 16, 77, 80}).scaled(0.2f),
        sdpaCase("head 128 causal", {2, 4, 130, 128}, {2, 4, 130, 128}, {2, 4, 130, 128}).causally(),
        sdpaCase("3-D bshd", {2, 50, 8 * 64}, {2, 50, 8 * 64}, {2, 50, 8 * 64}).heads(8, 8),
        sdpaCase("3-D bshd grouped-query", {2, 50, 8 * 64}, {2, 60, 2 * 64}, {2, 60, 2 * 32}).heads(8, 2),
        sdpaCase("mask [1,1,S_q,S_kv] with -inf, seq 197", vit, vit, vit)
            .masked({1, 1, 197, 197}, MaskKind::kRandomWithInf),
        sdpaCase("float16 mask [B,H,S_q,S_kv]", {2, 4, 33, 64}, {2, 4, 45, 64}, {2, 4, 45, 64})
            .masked({2, 4, 33, 45}, MaskKind::kRandom, DataType::kHALF),
        sdpaCase("mask shorter than the keys + causal", {2, 4, 48, 64}, {2, 4, 48, 64}, {2, 4, 48, 64})
            .masked({48, 40}, MaskKind::kRandom)
            .causally(),
        sdpaCase("bool mask", {2, 6, 64, 64}, {2, 6, 72, 64}, {2, 6, 72, 64})
            .masked({2, 1, 64, 72}, MaskKind::kBool, DataType::kBOOL),
    };
}

AttributeMap attrsOf(const SdpaCase& c) {
    AttributeMap attrs;
    if (c.qHeads) {
        attrs.set("q_num_heads", c.qHeads);
        attrs.set("kv_num_heads", c.kvHeads);
    }
    if (c.causal) attrs.set("is_causal", int64_t{1});
    if (c.scale) attrs.set("scale", *c.scale);
    return attrs;
}

Tensor makeMask(const SdpaCase& c, uint32_t seed) {
    if (c.maskKind == MaskKind::kBool) return test::randomTensor(DataType::kBOOL, c.mask, 0.0, 1.6, seed);
    if (c.maskKind == MaskKind::kRandom) return test::randomTensor(c.maskType, c.mask, -2.0, 0.5, seed);
    Tensor mask = test::randomTensor(DataType::kFLOAT, c.mask, -2.0, 0.5, seed);
    std::mt19937 rng(seed);
    std::bernoulli_distribution dropped(0.25);
    float* m = mask.data<float>();
    const int64_t keys = c.mask.back();
    for (int64_t e = 0; e < mask.elementCount(); ++e) {
        // Key 0 of every row stays, so these masks leave no row without keys.
        if (c.maskKind == MaskKind::kPadding) m[e] = e % keys != 0 && dropped(rng) ? -10000.f : 0.f;
        if (c.maskKind == MaskKind::kRandomWithInf && e % keys != 0 && dropped(rng)) m[e] = -INFINITY;
    }
    return mask;
}

std::string labelOf(const SdpaCase& c, DataType type) {
    return c.name + " " + dataTypeName(type);
}

bool isCudnn(const std::string& tactic) {
    return tactic.find("cudnn_sdpa") != std::string::npos;
}
bool isRowKernel(const std::string& tactic) {
    return tactic.find("attention_rowwise") != std::string::npos;
}
bool isFlash(const std::string& tactic) {
    return tactic.find("flash_attention") != std::string::npos;
}
bool isPersistentFlash(const std::string& tactic) {
    return tactic.find("flash_attention_persistent") != std::string::npos;
}

/// Whether Kiln's flash kernel computes the case: one head size for Q, K and V, 64 or 128.
bool flashComputes(const SdpaCase& c) {
    const int64_t q = c.qHeads ? c.q.back() / c.qHeads : c.q.back();
    const int64_t k = c.qHeads ? c.k.back() / c.kvHeads : c.k.back();
    const int64_t v = c.qHeads ? c.v.back() / c.kvHeads : c.v.back();
    return q == k && q == v && (q == 64 || q == 128);
}

TEST_F(CudaAttentionCudnnTest, PlansAndRowKernelAreTacticsThatMatchCpu) {
    uint32_t seed = 4000;
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        for (const SdpaCase& c : sdpaCases()) {
            const std::string label = labelOf(c, type);
            const Tensor q = test::randomTensor(type, c.q, -1.0, 1.0, seed++);
            const Tensor k = test::randomTensor(type, c.k, -1.0, 1.0, seed++);
            const Tensor v = test::randomTensor(type, c.v, -1.0, 1.0, seed++);
            const Tensor mask = c.mask.empty() ? Tensor() : makeMask(c, seed++);
            std::vector<const Tensor*> inputs = {&q, &k, &v};
            if (!c.mask.empty()) inputs.push_back(&mask);
            const AttributeMap attrs = attrsOf(c);
            std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, attrs);
            ASSERT_EQ(reference.size(), 1u) << label;
            const std::vector<double> expected = reference[0].toDoubleVector();
            const Tolerance tol = toleranceOf(type);
            KernelRig rig(*mBackend, mStream, "Attention", "", inputs, type, reference[0].shape());
            auto check = [&](Kernel& kernel, const std::string& what) {
                auto out = rig.run(kernel);
                ASSERT_TRUE(out.isOk()) << label << " " << what << ": " << out.status().message();
                EXPECT_EQ(test::compareWithReference(*out, expected, tol.rtol, tol.atol), "")
                    << label << " " << what << " (" << kernel.tacticName() << ")";
            };

            // The engine's kernel without a timed choice: cuDNN's default plan.
            auto plain = rig.kernel(attrs);
            ASSERT_TRUE(plain.isOk()) << label << ": " << plain.status().message();
            EXPECT_TRUE(isCudnn((*plain)->tacticName())) << label << ": default tactic " << (*plain)->tacticName();
            check(**plain, "default");

            // The builder's trial kernel: cuDNN's plans, then the row kernel, each the reference's result.
            AttributeMap search = attrs;
            search.set(kTacticSearchAttribute, kPlanSearch);
            auto searching = rig.kernel(search);
            ASSERT_TRUE(searching.isOk()) << label << ": " << searching.status().message();
            auto* chooser = dynamic_cast<TacticChooser*>(searching->get());
            ASSERT_NE(chooser, nullptr) << label;
            const size_t count = chooser->tacticCount();
            // The flash kernel's two forms (an H200 has the persistent form's shared memory at both head
            // sizes).
            const size_t flash = flashComputes(c) ? 2 : 0;
            ASSERT_GE(count, 2u + flash) << label << ": no cuDNN plan listed";
            EXPECT_LE(count, static_cast<size_t>(kPlanSearch) + 1 + flash) << label;
            const size_t cudnnPlans = count - 1 - flash;
            EXPECT_NE(chooser->tacticKey().find("cudnn sdpa"), std::string::npos)
                << label << ": " << chooser->tacticKey();
            expectKeyProbeNamesTheProblem(rig, attrs, *chooser, label);
            std::vector<std::vector<int64_t>> states;
            for (size_t t = 0; t < count; ++t) {
                ASSERT_TRUE(chooser->selectTactic(t).isOk()) << label << " tactic " << t;
                const std::string name = (*searching)->tacticName();
                if (t < cudnnPlans)
                    EXPECT_TRUE(isCudnn(name)) << label << " tactic " << t << ": " << name;
                else if (t + 1 < count)
                    EXPECT_TRUE(isFlash(name) && isPersistentFlash(name) == (t + 2 == count))
                        << label << " tactic " << t << ": " << name;
                else
                    EXPECT_TRUE(isRowKernel(name)) << label << " last tactic: " << name;
                check(**searching, "tactic " + std::to_string(t));
                states.push_back(chooser->tacticState());
                EXPECT_FALSE(states.back().empty()) << label << " tactic " << t;
                for (size_t earlier = 0; earlier < t; ++earlier)
                    EXPECT_NE(states[earlier], states.back()) << label << ": tactics " << earlier << " and " << t;
            }
            EXPECT_EQ(states.back(), std::vector<int64_t>{kRowKernelState}) << label;
            if (flash) {
                EXPECT_EQ(states[count - 3], std::vector<int64_t>{kFlashKernelState}) << label;
                EXPECT_EQ(states[count - 2], std::vector<int64_t>{kFlashPersistentKernelState}) << label;
            }
            EXPECT_FALSE(chooser->selectTactic(count).isOk()) << label;

            // The engine's kernel with the last cuDNN plan chosen (never the default by accident where
            // cuDNN lists several): that plan alone is built, then the flash kernel's forms where they
            // compute the node, then the row kernel.
            AttributeMap chosen = attrs;
            chosen.set(kTacticAttribute, states[cudnnPlans - 1]);
            auto replayed = rig.kernel(chosen);
            ASSERT_TRUE(replayed.isOk()) << label << ": " << replayed.status().message();
            auto* replayedChooser = dynamic_cast<TacticChooser*>(replayed->get());
            ASSERT_NE(replayedChooser, nullptr) << label;
            EXPECT_EQ(replayedChooser->tacticCount(), 2u + flash) << label;
            EXPECT_EQ(replayedChooser->tacticState(), states[cudnnPlans - 1]) << label;
            EXPECT_TRUE(isCudnn((*replayed)->tacticName())) << label;
            check(**replayed, "replayed plan");

            // A flash form chosen: no cuDNN graph; that form runs, the two forms and the row kernel listed.
            if (flash)
                for (int64_t state : {kFlashKernelState, kFlashPersistentKernelState}) {
                    const bool persistent = state == kFlashPersistentKernelState;
                    AttributeMap flashChosen = attrs;
                    flashChosen.set(kTacticAttribute, std::vector<int64_t>{state});
                    auto flashKernel = rig.kernel(flashChosen);
                    ASSERT_TRUE(flashKernel.isOk()) << label << ": " << flashKernel.status().message();
                    auto* flashChooser = dynamic_cast<TacticChooser*>(flashKernel->get());
                    ASSERT_NE(flashChooser, nullptr) << label;
                    EXPECT_EQ(flashChooser->tacticCount(), 1u + flash) << label;
                    EXPECT_EQ(flashChooser->tacticState(), std::vector<int64_t>{state}) << label;
                    const std::string name = (*flashKernel)->tacticName();
                    EXPECT_TRUE(isFlash(name) && isPersistentFlash(name) == persistent) << label << ": " << name;
                    check(**flashKernel, persistent ? "persistent flash kernel chosen" : "flash kernel chosen");
                }

            // The row kernel chosen: no cuDNN graph, one tactic.
            AttributeMap row = attrs;
            row.set(kTacticAttribute, std::vector<int64_t>{kRowKernelState});
            auto rowKernel = rig.kernel(row);
            ASSERT_TRUE(rowKernel.isOk()) << label << ": " << rowKernel.status().message();
            EXPECT_EQ(dynamic_cast<TacticChooser*>(rowKernel->get())->tacticCount(), 1u) << label;
            EXPECT_TRUE(isRowKernel((*rowKernel)->tacticName())) << label << ": " << (*rowKernel)->tacticName();
            check(**rowKernel, "row kernel chosen");
        }
    }
}

TEST_F(CudaAttentionCudnnTest, StaleStatesFallBackToTheDefaultPlan) {
    const Tensor q = test::randomTensor(DataType::kHALF, {2, 12, 128, 64}, -1.0, 1.0, 1);
    const Tensor k = test::randomTensor(DataType::kHALF, {2, 12, 128, 64}, -1.0, 1.0, 2);
    const Tensor v = test::randomTensor(DataType::kHALF, {2, 12, 128, 64}, -1.0, 1.0, 3);
    std::vector<const Tensor*> inputs = {&q, &k, &v};
    std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, {});
    ASSERT_EQ(reference.size(), 1u);
    KernelRig rig(*mBackend, mStream, "Attention", "", inputs, DataType::kHALF, reference[0].shape());
    auto plain = rig.kernel({});
    ASSERT_TRUE(plain.isOk()) << plain.status().message();
    const std::vector<int64_t> defaultState = dynamic_cast<TacticChooser*>(plain->get())->tacticState();
    ASSERT_GE(defaultState.size(), 2u);
    // No such engine of the attention graph's kind; a lone word that is not the row kernel's; a plan
    // state of the convolution's graph kind (0).
    for (const std::vector<int64_t>& stale : {std::vector<int64_t>{defaultState[0], 1 << 30}, std::vector<int64_t>{7},
                                              std::vector<int64_t>{0, defaultState[1]}}) {
        AttributeMap attrs;
        attrs.set(kTacticAttribute, stale);
        auto fallback = rig.kernel(attrs);
        ASSERT_TRUE(fallback.isOk()) << fallback.status().message();
        EXPECT_EQ(dynamic_cast<TacticChooser*>(fallback->get())->tacticState(), defaultState);
        auto out = rig.run(**fallback);
        ASSERT_TRUE(out.isOk()) << out.status().message();
        const Tolerance tol = toleranceOf(DataType::kHALF);
        EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "");
    }
}

TEST_F(CudaAttentionCudnnTest, RowsWithoutKeysGiveZeros) {
    // Query row 1 keeps no key (bool false, or -inf everywhere); with is_causal, row 0 keeps key 0 alone,
    // which the mask drops. ONNX gives such rows zero probabilities, so Y's row is zero.
    const int64_t rows = 6, keys = 24;
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        for (DataType maskType : {DataType::kBOOL, DataType::kFLOAT}) {
            for (bool causal : {false, true}) {
                const std::string label = std::string(dataTypeName(type)) + " " + dataTypeName(maskType) + " mask" +
                                          (causal ? " causal" : "");
                const Tensor q = test::randomTensor(type, {2, 4, rows, 64}, -1.0, 1.0, 11);
                const Tensor k = test::randomTensor(type, {2, 4, keys, 64}, -1.0, 1.0, 12);
                const Tensor v = test::randomTensor(type, {2, 4, keys, 64}, -1.0, 1.0, 13);
                Tensor mask = Tensor::allocate(maskType, {rows, keys});
                for (int64_t e = 0; e < rows * keys; ++e) {
                    const int64_t i = e / keys, j = e % keys;
                    const bool keep = i != 1 && j != 0 && j % 3 != 1;
                    if (maskType == DataType::kBOOL)
                        mask.data<bool>()[e] = keep;
                    else
                        mask.data<float>()[e] = keep ? 0.25f * static_cast<float>(j % 5) : -INFINITY;
                }
                std::vector<const Tensor*> inputs = {&q, &k, &v, &mask};
                AttributeMap attrs;
                if (causal) attrs.set("is_causal", int64_t{1});
                std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, attrs);
                ASSERT_EQ(reference.size(), 1u) << label;
                KernelRig rig(*mBackend, mStream, "Attention", "", inputs, type, reference[0].shape());
                auto kernel = rig.kernel(attrs);
                ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
                EXPECT_TRUE(isCudnn((*kernel)->tacticName())) << label << ": " << (*kernel)->tacticName();
                auto out = rig.run(**kernel);
                ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
                for (int64_t bh = 0; bh < 8; ++bh)
                    for (int64_t i : {int64_t{0}, int64_t{1}}) {
                        if (i == 0 && !causal) continue;
                        for (int64_t d = 0; d < 64; ++d)
                            EXPECT_EQ(out->elementAsDouble((bh * rows + i) * 64 + d), 0.0) << label << " row " << i;
                    }
                const Tolerance tol = toleranceOf(type);
                EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "")
                    << label;
            }
        }
    }
}

TEST_F(CudaAttentionCudnnTest, AKeyPaddingMaskWithoutKeysZeroesItsWholeBatchEntry) {
    // A [batch, 1, 1, keys] mask, which cuDNN reads as one bias row for every query: batch entry 1 masks
    // every key, so all of its rows are zeros; entry 0 keeps some.
    const int64_t rows = 40, keys = 56;
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        const std::string label = dataTypeName(type);
        const Tensor q = test::randomTensor(type, {2, 4, rows, 64}, -1.0, 1.0, 31);
        const Tensor k = test::randomTensor(type, {2, 4, keys, 64}, -1.0, 1.0, 32);
        const Tensor v = test::randomTensor(type, {2, 4, keys, 64}, -1.0, 1.0, 33);
        Tensor mask = test::randomTensor(DataType::kFLOAT, {2, 1, 1, keys}, -1.0, 0.0, 34);
        for (int64_t j = 0; j < keys; ++j)
            if (j % 4 == 3 || j >= keys - 8) mask.data<float>()[j] = -INFINITY;
        for (int64_t j = 0; j < keys; ++j) mask.data<float>()[keys + j] = -INFINITY;
        std::vector<const Tensor*> inputs = {&q, &k, &v, &mask};
        std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, {});
        ASSERT_EQ(reference.size(), 1u) << label;
        KernelRig rig(*mBackend, mStream, "Attention", "", inputs, type, reference[0].shape());
        auto kernel = rig.kernel({});
        ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
        EXPECT_TRUE(isCudnn((*kernel)->tacticName())) << label << ": " << (*kernel)->tacticName();
        auto out = rig.run(**kernel);
        ASSERT_TRUE(out.isOk()) << label << ": " << out.status().message();
        const int64_t perEntry = 4 * rows * 64;
        for (int64_t e = 0; e < perEntry; ++e) ASSERT_EQ(out->elementAsDouble(perEntry + e), 0.0) << label << " " << e;
        const Tolerance tol = toleranceOf(type);
        EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "") << label;
    }
}

TEST_F(CudaAttentionCudnnTest, MisalignedQueriesRunTheRowKernel) {
    // Q two bytes past a 16-byte boundary: cuDNN's vector loads cannot read it, the row kernel can.
    const Tensor q = test::randomTensor(DataType::kHALF, {1, 4, 32, 64}, -1.0, 1.0, 21);
    const Tensor k = test::randomTensor(DataType::kHALF, {1, 4, 32, 64}, -1.0, 1.0, 22);
    const Tensor v = test::randomTensor(DataType::kHALF, {1, 4, 32, 64}, -1.0, 1.0, 23);
    std::vector<const Tensor*> inputs = {&q, &k, &v};
    std::vector<Tensor> reference = cpuReference("Attention", inputs, 1, {});
    ASSERT_EQ(reference.size(), 1u);
    KernelRig rig(*mBackend, mStream, "Attention", "", inputs, DataType::kHALF, reference[0].shape(), 2);
    auto kernel = rig.kernel({});
    ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
    auto out = rig.run(**kernel);
    ASSERT_TRUE(out.isOk()) << out.status().message();
    const Tolerance tol = toleranceOf(DataType::kHALF);
    EXPECT_EQ(test::compareWithReference(*out, reference[0].toDoubleVector(), tol.rtol, tol.atol), "");
}

struct RefusedCase {
    std::string name;
    DataType type;
    Shape q, kv;
    AttributeMap attrs;
    bool past{false};  // past_key / past_value [1, 2, 5, head], present outputs
    bool nonpad{false};
    size_t outputs{1};  // 4: qk_matmul_output too (with the present outputs)
};

TEST_F(CudaAttentionCudnnTest, RefusedFormsRunTheRowKernel) {
    auto attrs = [](const char* name, auto value) {
        AttributeMap a;
        a.set(name, value);
        return a;
    };
    const std::vector<RefusedCase> cases = {
        {"kv cache", DataType::kHALF, {1, 2, 4, 64}, {1, 2, 3, 64}, {}, true, false, 3},
        {"softcap", DataType::kHALF, {1, 2, 8, 64}, {1, 2, 8, 64}, attrs("softcap", 1.5f)},
        {"float32", DataType::kFLOAT, {2, 4, 16, 64}, {2, 4, 16, 64}, {}},
        {"head size 12", DataType::kBF16, {1, 2, 8, 12}, {1, 2, 8, 12}, {}},
        {"nonpad_kv_seqlen", DataType::kHALF, {1, 2, 4, 64}, {1, 2, 8, 64}, {}, false, true},
        {"left window", DataType::kBF16, {1, 2, 8, 64}, {1, 2, 8, 64}, attrs("left_window_size", int64_t{2})},
        {"qk_matmul_output", DataType::kHALF, {1, 2, 4, 64}, {1, 2, 3, 64}, {}, true, false, 4},
        {"softmax in double", DataType::kHALF, {1, 2, 8, 64}, {1, 2, 8, 64}, attrs("softmax_precision", int64_t{11})},
    };
    uint32_t seed = 6000;
    for (const RefusedCase& c : cases) {
        const Tensor q = test::randomTensor(c.type, c.q, -1.0, 1.0, seed++);
        const Tensor k = test::randomTensor(c.type, c.kv, -1.0, 1.0, seed++);
        const Tensor v = test::randomTensor(c.type, c.kv, -1.0, 1.0, seed++);
        const Tensor past = test::randomTensor(c.type, {1, 2, 5, c.kv[3]}, -1.0, 1.0, seed++);
        const Tensor nonpad = Tensor::fromInt64({6}, {1});
        std::vector<const Tensor*> inputs = {&q, &k, &v};
        if (c.past || c.nonpad) inputs.push_back(nullptr);  // attn_mask
        if (c.past) {
            inputs.push_back(&past);
            inputs.push_back(&past);
        } else if (c.nonpad) {
            inputs.push_back(nullptr);
            inputs.push_back(nullptr);
            inputs.push_back(&nonpad);
        }
        PairedOutputs paired = runOnCpuAndGpu(*mBackend, mStream, "Attention", inputs, c.outputs, c.attrs, c.name);
        EXPECT_TRUE(isRowKernel(paired.tactic)) << c.name << ": " << paired.tactic;
        const Tolerance tol = toleranceOf(c.type);
        for (size_t o = 0; o < paired.gpu.size(); ++o)
            EXPECT_EQ(test::compareWithReference(paired.gpu[o], paired.cpu[o].toDoubleVector(), tol.rtol, tol.atol), "")
                << c.name << ", output " << o;
    }
}

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
/// An Attention node over Q, K and V of `type` (and the optional inputs named), with `outputs` outputs.
struct NodeSpec {
    DataType type{DataType::kHALF};
    bool mask{false}, past{false}, nonpad{false};
    size_t outputs{1};
    bool qkOutputOnly{false};  // of 4 outputs, Y and qk_matmul_output only
    AttributeMap attrs;
};

std::optional<std::string> refusalOf(const NodeSpec& spec) {
    Graph graph;
    auto input = [&](const char* name, DataType type) {
        return graph.addInput(name, type, fromConcrete(Shape{1, 2, 8, 64}));
    };
    std::vector<Value*> ins = {input("q", spec.type), input("k", spec.type), input("v", spec.type)};
    ins.push_back(spec.mask ? input("mask", DataType::kBOOL) : nullptr);
    ins.push_back(spec.past ? input("past_key", spec.type) : nullptr);
    ins.push_back(spec.past ? input("past_value", spec.type) : nullptr);
    ins.push_back(spec.nonpad ? graph.addInput("nonpad", DataType::kINT64, fromConcrete(Shape{1})) : nullptr);
    Node* node = graph.addNode("Attention", "attention", ins, {}, spec.outputs);
    if (spec.qkOutputOnly) node->outputs[1] = node->outputs[2] = nullptr;
    node->attrs = spec.attrs;
    return cuda::cudnnSdpaRefusal(*node);
}

TEST(CudaAttentionCudnnSupport, NodesCudnnComputesExactly) {
    EXPECT_EQ(refusalOf({}), std::nullopt);
    EXPECT_EQ(refusalOf({DataType::kBF16, true}), std::nullopt);  // a bool mask becomes cuDNN's bias
    NodeSpec causal;
    causal.attrs.set("is_causal", int64_t{1});
    causal.attrs.set("softmax_precision", int64_t{1});  // float: what cuDNN computes in
    EXPECT_EQ(refusalOf(causal), std::nullopt);

    auto refused = [](const NodeSpec& spec, const std::string& why) {
        const std::optional<std::string> reason = refusalOf(spec);
        ASSERT_TRUE(reason.has_value()) << why;
        EXPECT_NE(reason->find(why), std::string::npos) << *reason;
    };
    refused({DataType::kFLOAT}, "float16 and bfloat16");
    refused({DataType::kHALF, false, true, false, 3}, "KV cache");
    refused({DataType::kHALF, false, false, true}, "nonpad_kv_seqlen");
    refused({DataType::kHALF, false, false, false, 3}, "present_key");
    NodeSpec qk;
    qk.outputs = 4;
    qk.qkOutputOnly = true;
    refused(qk, "qk_matmul_output");
    NodeSpec softcap, window, doubleSoftmax;
    softcap.attrs.set("softcap", 2.0f);
    refused(softcap, "softcap");
    window.attrs.set("right_window_size", int64_t{0});
    refused(window, "sliding windows");
    doubleSoftmax.attrs.set("softmax_precision", int64_t{11});
    refused(doubleSoftmax, "DOUBLE");
}

/// A contiguous [batch, heads, seq, head] tensor.
cuda::SdpaTensor bhsd(int64_t batch, int64_t heads, int64_t seq, int64_t head) {
    return {batch, heads, seq, head, 0, {heads * seq * head, seq * head, head}};
}

cuda::SdpaProblem problemOf(int64_t headQk, int64_t headV) {
    cuda::SdpaProblem p;
    p.q = bhsd(2, 8, 128, headQk);
    p.k = bhsd(2, 8, 128, headQk);
    p.v = bhsd(2, 8, 128, headV);
    p.y = bhsd(2, 8, 128, headV);
    return p;
}

TEST(CudaAttentionCudnnSupport, ShapesCudnnTakes) {
    EXPECT_EQ(cuda::cudnnSdpaShapeRefusal(problemOf(64, 64)), std::nullopt);
    EXPECT_EQ(cuda::cudnnSdpaShapeRefusal(problemOf(128, 40)), std::nullopt);
    EXPECT_NE(cuda::cudnnSdpaShapeRefusal(problemOf(12, 12)), std::nullopt);
    EXPECT_NE(cuda::cudnnSdpaShapeRefusal(problemOf(160, 160)), std::nullopt);
    EXPECT_NE(cuda::cudnnSdpaShapeRefusal(problemOf(64, 20)), std::nullopt);
    cuda::SdpaProblem empty = problemOf(64, 64);
    empty.q.seq = empty.y.seq = 0;
    EXPECT_NE(cuda::cudnnSdpaShapeRefusal(empty), std::nullopt);

    // A mask broadcast over batch and heads is materialized once: [1, 1, 128, 128]; one per batch entry
    // and head of 4096 queries and keys would take 2 GiB.
    cuda::SdpaProblem masked = problemOf(64, 64);
    masked.hasMask = true;
    masked.maskShape = {128, 128};
    masked.maskStrides[2] = 128;
    EXPECT_EQ(cuda::cudnnSdpaShapeRefusal(masked), std::nullopt);
    cuda::SdpaProblem huge = problemOf(64, 64);
    huge.q.seq = huge.k.seq = huge.v.seq = huge.y.seq = 4096;
    huge.hasMask = true;
    huge.maskShape = {2, 8, 4096, 4096};
    huge.maskStrides[0] = 8 * 4096 * 4096;
    huge.maskStrides[1] = 4096 * 4096;
    huge.maskStrides[2] = 4096;
    const std::optional<std::string> reason = cuda::cudnnSdpaShapeRefusal(huge);
    ASSERT_TRUE(reason.has_value());
    EXPECT_NE(reason->find("bytes of workspace"), std::string::npos) << *reason;

    // 16-byte vectors: an offset or stride that is not a multiple of 8 elements is refused.
    cuda::SdpaProblem shifted = problemOf(64, 64), skewed = problemOf(64, 64);
    shifted.k.offset = 4;
    skewed.v.strides[2] = 68;
    EXPECT_NE(cuda::cudnnSdpaShapeRefusal(shifted), std::nullopt);
    EXPECT_NE(cuda::cudnnSdpaShapeRefusal(skewed), std::nullopt);

    // The tactic key tells apart what changes the graph: layout (strides, offsets), causality, the mask.
    cuda::SdpaProblem packed = problemOf(64, 64), causal = problemOf(64, 64), offset = problemOf(64, 64);
    packed.q.strides[1] = 64;
    packed.q.strides[2] = 8 * 64;
    offset.k.offset = 64;
    EXPECT_NE(cuda::describeSdpaProblem(offset), cuda::describeSdpaProblem(problemOf(64, 64)));
    causal.causal = true;
    const std::string base = cuda::describeSdpaProblem(problemOf(64, 64));
    EXPECT_NE(cuda::describeSdpaProblem(packed), base);
    EXPECT_NE(cuda::describeSdpaProblem(causal), base);
    EXPECT_NE(cuda::describeSdpaProblem(masked), base);
}
#endif

}  // namespace
}  // namespace kiln::cudatest
