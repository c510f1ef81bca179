// Attention's input forms against the double reference (attention_reference.h): float16 and
// bfloat16 inputs (float math, one rounding on output; caches copied exactly), V of another type
// than Q, masks of rank 1 to 4 in every mask type with broadcasting and a short key axis padded as
// masked, softmax_precision; then the errors inference and the kernel give for malformed nodes.

#include <gtest/gtest.h>

#include <functional>

#include "attention_reference.h"
#include "backends/cpu/kernel_registry.h"

namespace kiln::test {
namespace {

constexpr DataType kHalf = DataType::kHALF;
constexpr DataType kBf16 = DataType::kBF16;

TEST(AttentionKernel, Float16AndBFloat16ComputeInFloatAndRoundOnce) {
    const std::vector<std::pair<const char*, AttentionCase>> cases = {
        {"fp16 GQA, cache, fp16 mask, softmax out",
         {.q = {2, 4, 3, 8},
          .k = {2, 2, 3, 8},
          .v = {2, 2, 3, 8},
          .past = 4,
          .mask = Shape{3, 7},
          .maskType = kHalf,
          .causal = true,
          .qkMode = 3,
          .outputs = 4,
          .type = kHalf}},
        {"fp16 3-D raw scores",
         {.q = {2, 4, 16}, .k = {2, 5, 16}, .v = {2, 5, 8}, .qHeads = 2, .kvHeads = 2, .outputs = 4, .type = kHalf}},
        {"bf16 nonpad, short bf16 mask",
         {.q = {2, 3, 4, 8},
          .k = {2, 3, 6, 8},
          .v = {2, 3, 6, 8},
          .mask = Shape{2, 3, 4, 4},
          .maskType = kBf16,
          .nonpad = {3, 4},
          .causal = true,
          .type = kBf16}},
        {"bf16 3-D causal",
         {.q = {2, 4, 24}, .k = {2, 6, 24}, .v = {2, 6, 24}, .qHeads = 3, .kvHeads = 3, .causal = true, .type = kBf16}},
        // T1 and T2 may differ: Y and present_key take Q's type, present_value V's.
        {"fp16 Q/K, float V",
         {.q = {1, 2, 3, 4},
          .k = {1, 2, 3, 4},
          .v = {1, 2, 3, 6},
          .past = 2,
          .outputs = 3,
          .type = kHalf,
          .valueType = DataType::kFLOAT}},
        {"float Q/K, bf16 V",
         {.q = {1, 2, 3, 4}, .k = {1, 2, 3, 4}, .v = {1, 2, 3, 6}, .past = 2, .outputs = 3, .valueType = kBf16}},
    };
    uint32_t seed = 1000;
    for (const auto& [label, c] : cases) expectAttentionMatches(c, seed += 10, label);
}

TEST(AttentionKernel, MasksOfEveryRankAndTypeBroadcastAndAShortKeyAxisIsPadded) {
    // Scores are [2, 3, 4, 6]. A key axis shorter than 6 (4, or 1) leaves the keys beyond it masked.
    const std::vector<Shape> shapes = {{6},          {1, 6},       {4, 6},       {4, 1},       {3, 4, 6},   {1, 4, 6},
                                       {2, 1, 4, 6}, {2, 3, 4, 6}, {2, 3, 1, 6}, {2, 3, 4, 4}, {1, 1, 1, 2}};
    uint32_t seed = 1100;
    for (DataType type : {DataType::kBOOL, DataType::kFLOAT, DataType::kDOUBLE, kHalf, kBf16})
        for (const Shape& s : shapes)
            for (bool causal : {false, true}) {
                AttentionCase c{.q = {2, 3, 4, 8},
                                .k = {2, 3, 6, 8},
                                .v = {2, 3, 6, 8},
                                .mask = s,
                                .maskType = type,
                                .causal = causal};
                expectAttentionMatches(
                    c, seed += 10,
                    std::string(dataTypeName(type)) + " mask " + shapeToString(s) + (causal ? " causal" : ""));
            }
}

TEST(AttentionKernel, SoftmaxPrecisionOfEachAllowedTypeGivesTheSameProbabilities) {
    for (int64_t precision : {1, 10, 11, 16}) {
        AttentionCase c{.q = {1, 2, 4, 8},
                        .k = {1, 2, 5, 8},
                        .v = {1, 2, 5, 8},
                        .mask = Shape{4, 5},
                        .qkMode = 3,
                        .softmaxPrecision = precision,
                        .outputs = 4};
        expectAttentionMatches(c, 1300 + static_cast<uint32_t>(precision),
                               "softmax_precision " + std::to_string(precision));
    }
}

/// Runs one malformed case and expects an error naming the node and containing `what`.
void expectError(const AttentionCase& c, const std::string& what,
                 const std::function<void(AttentionInputs&)>& edit = {}) {
    AttentionInputs in = makeAttentionInputs(c, 1500);
    if (edit) edit(in);
    SingleNodeRun run = runSingleNode("Attention", in.list(), c.outputs, in.attrs);
    ASSERT_FALSE(run.status.isOk()) << "expected: " << what;
    EXPECT_NE(run.status.message().find("'node'"), std::string::npos) << run.status.message();
    EXPECT_NE(run.status.message().find(what), std::string::npos) << run.status.message();
}

TEST(AttentionKernel, MalformedNodesGiveErrorsThatSayWhatIsWrong) {
    const AttentionCase base{.q = {2, 4, 3, 8}, .k = {2, 2, 5, 8}, .v = {2, 2, 5, 8}};
    auto with = [&](auto change) {
        AttentionCase c = base;
        change(c);
        return c;
    };
    expectError(with([](AttentionCase& c) {
                    c.k = {2, 3, 5, 8};
                    c.v = {2, 3, 5, 8};
                }),
                "not a multiple");
    expectError(with([](AttentionCase& c) { c.k = {2, 2, 5, 6}; }), "head size");
    expectError(with([](AttentionCase& c) { c.v = {2, 2, 4, 8}; }), "sequence lengths differ");
    expectError(with([](AttentionCase& c) { c.mask = Shape{3, 6}; }), "longer than the 5 keys");
    expectError(with([](AttentionCase& c) { c.mask = Shape{2, 3, 5}; }), "does not broadcast");
    expectError(with([](AttentionCase& c) {
                    c.mask = Shape{3, 5};
                    c.maskType = DataType::kINT32;
                }),
                "attn_mask must be bool");
    expectError(with([](AttentionCase& c) {
                    c.qkMode = 4;
                    c.outputs = 4;
                }),
                "qk_matmul_output_mode");
    expectError(base, "softcap", [](AttentionInputs& in) { in.attrs.set("softcap", -1.f); });
    expectError(base, "left_window_size", [](AttentionInputs& in) { in.attrs.set("left_window_size", int64_t{-2}); });
    expectError(with([](AttentionCase& c) { c.softmaxPrecision = 7; }), "softmax_precision");
    expectError(with([](AttentionCase& c) {
                    c.past = 2;
                    c.nonpad = {2, 2};
                }),
                "cannot be combined");
    expectError(with([](AttentionCase& c) { c.nonpad = {5, 5, 5}; }), "one length per batch");
    expectError(with([](AttentionCase& c) {
                    c.q = {2, 3, 32};
                    c.k = {2, 5, 16};
                    c.v = {2, 5, 16};
                }),
                "q_num_heads");
    expectError(with([](AttentionCase& c) {
                    c.q = {2, 3, 30};
                    c.k = {2, 5, 16};
                    c.v = {2, 5, 16};
                    c.qHeads = 4;
                    c.kvHeads = 2;
                }),
                "not a multiple of its head count");
    expectError(with([](AttentionCase& c) { c.type = DataType::kINT32; }), "floating-point");
    expectError(with([](AttentionCase& c) { c.past = 2; }), "past_value go together",
                [](AttentionInputs& in) { in.hasPastValue = false; });
    expectError(with([](AttentionCase& c) { c.past = 2; }), "do not fit K and V", [](AttentionInputs& in) {
        in.pastKey = randomTensor(DataType::kFLOAT, {2, 2, 2, 7}, -1, 1, 1);
    });
    // Run time: a length beyond the keys.
    expectError(with([](AttentionCase& c) { c.nonpad = {5, 6}; }), "nonpad_kv_seqlen[1] = 6 is outside [0, 5]");
}

TEST(AttentionKernel, DoubleInputsAreRefusedByTheCpuKernelRatherThanComputedInFloat) {
    // Both where the backend is asked (supports) and where the kernel is run directly (constant folding).
    Graph graph;
    Value* q = graph.addInput("q", DataType::kDOUBLE, {1, 1, 2, 4});
    Node* node = graph.addNode("Attention", "node", {q, q, q}, {}, 1);
    std::string reason;
    EXPECT_FALSE(CpuKernelRegistry::global().find(*node)->supports(*node, &reason));
    EXPECT_NE(reason.find("double"), std::string::npos) << reason;
    expectError({.q = {1, 1, 2, 4}, .k = {1, 1, 2, 4}, .v = {1, 1, 2, 4}, .type = DataType::kDOUBLE}, "not double");
}

}  // namespace
}  // namespace kiln::test
