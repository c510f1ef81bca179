// The CPU Attention kernel against a double-precision reference (attention_reference.h) on random
// data, feature by feature: 4-D and 3-D layouts with multi-head, grouped-query and multi-query heads;
// masks, the causal mask, sliding windows, softcap and scale; the KV cache (past in, present out,
// causal frontier bottom-right at the past length); an external cache through nonpad_kv_seqlen
// (per-batch frontier and padding, fully masked rows giving zeros); and each qk_matmul_output mode.

#include <gtest/gtest.h>

#include "attention_reference.h"

namespace kiln::test {
namespace {

constexpr DataType kBool = DataType::kBOOL;

TEST(AttentionKernel, LayoutsHeadCountsMasksCausalWindowsSoftcapAndScale) {
    const std::vector<std::pair<const char*, AttentionCase>> cases = {
        {"4-D, 2-D float mask", {.q = {2, 4, 5, 8}, .k = {2, 4, 5, 8}, .v = {2, 4, 5, 8}, .mask = Shape{5, 5}}},
        // More keys than queries: without a cache the causal mask is top-left (query i sees keys 0..i).
        {"GQA, causal, sk > sq", {.q = {1, 4, 3, 8}, .k = {1, 2, 7, 8}, .v = {1, 2, 7, 6}, .causal = true}},
        {"causal with a mask",
         {.q = {2, 2, 6, 4}, .k = {2, 2, 6, 4}, .v = {2, 2, 6, 4}, .mask = Shape{6, 6}, .causal = true}},
        {"window and softcap",
         {.q = {1, 2, 6, 8},
          .k = {1, 2, 6, 8},
          .v = {1, 2, 6, 8},
          .mask = Shape{6, 6},
          .softcap = 0.5,
          .left = 2,
          .right = 1}},
        {"bidirectional window", {.q = {1, 1, 5, 3}, .k = {1, 1, 5, 3}, .v = {1, 1, 5, 3}, .left = 1, .right = 2}},
        {"causal left window", {.q = {2, 3, 4, 8}, .k = {2, 3, 6, 8}, .v = {2, 3, 6, 8}, .causal = true, .left = 2}},
        {"scale attribute", {.q = {2, 3, 4, 8}, .k = {2, 3, 6, 8}, .v = {2, 3, 6, 10}, .scale = 0.3f}},
        {"3-D MHA", {.q = {2, 4, 24}, .k = {2, 6, 24}, .v = {2, 6, 24}, .qHeads = 3, .kvHeads = 3, .softcap = 2.0}},
        {"3-D GQA, causal, wider V",
         {.q = {2, 4, 72}, .k = {2, 6, 24}, .v = {2, 6, 30}, .qHeads = 9, .kvHeads = 3, .causal = true}},
        {"3-D MQA, 4-D bool mask",
         {.q = {2, 5, 32},
          .k = {2, 7, 8},
          .v = {2, 7, 6},
          .qHeads = 4,
          .kvHeads = 1,
          .mask = Shape{2, 4, 5, 7},
          .maskType = kBool}},
    };
    uint32_t seed = 1;
    for (const auto& [label, c] : cases) expectAttentionMatches(c, seed += 10, label);
}

TEST(AttentionKernel, KvCacheConcatenatesPastAndNewAndPlacesTheCausalFrontierAfterThePast) {
    const std::vector<std::pair<const char*, AttentionCase>> cases = {
        {"4-D causal",
         {.q = {2, 3, 4, 8}, .k = {2, 3, 4, 8}, .v = {2, 3, 4, 8}, .past = 3, .causal = true, .outputs = 3}},
        {"4-D mask over past and new",
         {.q = {2, 3, 4, 8}, .k = {2, 3, 6, 8}, .v = {2, 3, 6, 10}, .past = 12, .mask = Shape{4, 18}, .outputs = 3}},
        {"3-D GQA, 3-D mask",
         {.q = {2, 4, 72},
          .k = {2, 6, 24},
          .v = {2, 6, 24},
          .qHeads = 9,
          .kvHeads = 3,
          .past = 5,
          .mask = Shape{9, 4, 11},
          .outputs = 3}},
        {"3-D, decode step",
         {.q = {2, 1, 16},
          .k = {2, 1, 16},
          .v = {2, 1, 8},
          .qHeads = 2,
          .kvHeads = 2,
          .past = 9,
          .causal = true,
          .outputs = 3}},
        {"window after the past",
         {.q = {2, 3, 4, 8}, .k = {2, 3, 2, 8}, .v = {2, 3, 2, 8}, .past = 8, .causal = true, .left = 2, .outputs = 3}},
        // The caches may go unread: the kernel then writes only Y.
        {"present outputs dropped",
         {.q = {1, 2, 3, 4}, .k = {1, 2, 3, 4}, .v = {1, 2, 3, 4}, .past = 4, .causal = true}},
        {"empty past",
         {.q = {1, 2, 3, 4}, .k = {1, 2, 3, 4}, .v = {1, 2, 3, 4}, .past = 0, .causal = true, .outputs = 3}},
        // present without past: the cache is the new keys, in the 4-D layout even for 3-D inputs.
        {"present from 3-D keys",
         {.q = {1, 3, 8}, .k = {1, 5, 8}, .v = {1, 5, 4}, .qHeads = 2, .kvHeads = 2, .outputs = 3}},
    };
    uint32_t seed = 200;
    for (const auto& [label, c] : cases) expectAttentionMatches(c, seed += 10, label);
}

TEST(AttentionKernel, NonpadLengthsMaskPaddingAndPlaceTheFrontierPerBatch) {
    const std::vector<std::pair<const char*, AttentionCase>> cases = {
        // Batch 1 holds 3 keys for 4 queries: its frontier sits at i - 1, so query 0 sees nothing (zeros).
        {"causal, a negative offset",
         {.q = {2, 2, 4, 8}, .k = {2, 2, 6, 8}, .v = {2, 2, 6, 8}, .nonpad = {6, 3}, .causal = true}},
        {"padding only, short float mask",
         {.q = {2, 3, 4, 8}, .k = {2, 3, 6, 8}, .v = {2, 3, 6, 10}, .mask = Shape{2, 3, 4, 4}, .nonpad = {3, 4}}},
        {"GQA decode", {.q = {2, 4, 1, 8}, .k = {2, 2, 8, 8}, .v = {2, 2, 8, 8}, .nonpad = {5, 8}, .causal = true}},
        {"window, 3-D head mask",
         {.q = {2, 3, 4, 8},
          .k = {2, 3, 8, 8},
          .v = {2, 3, 8, 8},
          .mask = Shape{3, 4, 8},
          .nonpad = {6, 8},
          .causal = true,
          .left = 2}},
        {"bool mask composed",
         {.q = {2, 2, 3, 8},
          .k = {2, 2, 6, 8},
          .v = {2, 2, 6, 8},
          .mask = Shape{2, 1, 3, 6},
          .maskType = kBool,
          .nonpad = {4, 6},
          .causal = true}},
        {"zero valid keys", {.q = {1, 1, 2, 4}, .k = {1, 1, 3, 4}, .v = {1, 1, 3, 4}, .nonpad = {0}}},
    };
    uint32_t seed = 400;
    for (const auto& [label, c] : cases) expectAttentionMatches(c, seed += 10, label);
}

TEST(AttentionKernel, QkMatmulOutputAtEachStage) {
    // Modes: 0 the scaled Q K^T, 1 after softcap, 2 after mask and bias, 3 the softmax.
    for (int64_t mode = -1; mode <= 3; ++mode) {
        AttentionCase c{.q = {2, 2, 4, 8},
                        .k = {2, 2, 3, 8},
                        .v = {2, 2, 3, 8},
                        .past = 3,
                        .mask = Shape{4, 6},
                        .causal = true,
                        .softcap = 1.5,
                        .outputs = 4};
        if (mode >= 0) c.qkMode = mode;  // -1: the attribute's default, 0
        expectAttentionMatches(c, 600 + static_cast<uint32_t>(mode), "mode " + std::to_string(mode));
        AttentionCase noCache{
            .q = {1, 3, 4, 8}, .k = {1, 3, 6, 8}, .v = {1, 3, 6, 8}, .mask = Shape{1, 6}, .outputs = 4};
        if (mode >= 0) noCache.qkMode = mode;
        expectAttentionMatches(noCache, 620 + static_cast<uint32_t>(mode), "no cache, mode " + std::to_string(mode));
    }
}

TEST(AttentionKernel, AFullyMaskedRowGivesZerosInYAndTheSoftmaxOutput) {
    // Row 1 of the mask keeps no key; row 0 keeps key 1 only. Mode 2 shows the row as all -inf.
    for (int64_t mode : {2, 3}) {
        AttentionCase c{.q = {1, 2, 2, 8},
                        .k = {1, 2, 2, 8},
                        .v = {1, 2, 2, 8},
                        .mask = Shape{2, 2},
                        .maskType = kBool,
                        .qkMode = mode,
                        .outputs = 4};
        AttentionInputs in = makeAttentionInputs(c, 700);
        bool* keep = in.mask.data<bool>();
        keep[0] = false, keep[1] = true, keep[2] = false, keep[3] = false;
        SingleNodeRun run = runSingleNode("Attention", in.list(), 4, in.attrs);
        ASSERT_TRUE(run.status.isOk()) << run.status.message();
        const AttentionReference ref = referenceAttention(c, in);
        EXPECT_EQ(compareWithReference(run.outputs[0], ref.y, 1e-5, 1e-6), "");
        EXPECT_EQ(compareWithReference(run.outputs[3], ref.qk, 1e-5, 1e-6), "");
        for (int64_t h = 0; h < 2; ++h)
            for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(run.outputs[0].data<float>()[(h * 2 + 1) * 8 + x], 0.f);
    }
    // A float mask of -inf hides keys the same way, under softcap too: no probability leaks to them.
    AttentionCase c{.q = {1, 1, 4, 8}, .k = {1, 1, 6, 8}, .v = {1, 1, 6, 8}, .mask = Shape{4, 6}, .softcap = 0.5};
    AttentionInputs in = makeAttentionInputs(c, 710);
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 4; j < 6; ++j) in.mask.data<float>()[i * 6 + j] = -std::numeric_limits<float>::infinity();
    for (int64_t x = 0; x < 8; ++x) in.v.data<float>()[4 * 8 + x] = in.v.data<float>()[5 * 8 + x] = 1000.f;
    SingleNodeRun run = runSingleNode("Attention", in.list(), 1, in.attrs);
    ASSERT_TRUE(run.status.isOk()) << run.status.message();
    EXPECT_EQ(compareWithReference(run.outputs[0], referenceAttention(c, in).y, 1e-5, 1e-6), "");
    for (int64_t e = 0; e < run.outputs[0].elementCount(); ++e)
        EXPECT_LE(std::fabs(run.outputs[0].data<float>()[e]), 1.f);
}

}  // namespace
}  // namespace kiln::test
