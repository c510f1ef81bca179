// LinearAttention against a double-precision reference written from the ONNX definition's
// recurrences (linear, gated, delta, gated_delta), on random data: per-key-dim and per-head
// decay, per-head and shared beta, GQA / MQA head counts, past_state given or zero, decode
// (T = 1), explicit and default scale, float16 inputs and state; plus the shape rules.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

struct Config {
    std::string rule;
    int64_t batch, time, qHeads, kvHeads, dk, dv;
    bool perHeadDecay{false};
    bool sharedBeta{false};  // beta (B, T, 1)
    bool withPast{false};
    float scale{0.0f};
    DataType type{DataType::kFLOAT};
    DataType stateType{DataType::kFLOAT};
};

struct Inputs {
    Tensor q, k, v, past, decay, beta;
};

bool gated(const Config& c) { return c.rule == "gated" || c.rule == "gated_delta"; }
bool delta(const Config& c) { return c.rule == "delta" || c.rule == "gated_delta"; }

Inputs makeInputs(const Config& c, uint32_t seed) {
    Inputs in;
    in.q = randomTensor(c.type, {c.batch, c.time, c.qHeads * c.dk}, -1, 1, seed);
    // Keys of modest norm keep the delta rule's recurrence contracting, as L2-normalized keys do.
    in.k = randomTensor(c.type, {c.batch, c.time, c.kvHeads * c.dk}, -0.5, 0.5, seed + 1);
    in.v = randomTensor(c.type, {c.batch, c.time, c.kvHeads * c.dv}, -1, 1, seed + 2);
    in.past = randomTensor(c.stateType, {c.batch, c.kvHeads, c.dk, c.dv}, -1, 1, seed + 3);
    in.decay = randomTensor(c.type, {c.batch, c.time, c.perHeadDecay ? c.kvHeads : c.kvHeads * c.dk}, -0.7, -0.01, seed + 4);
    in.beta = randomTensor(c.type, {c.batch, c.time, c.sharedBeta ? 1 : c.kvHeads}, 0.1, 0.9, seed + 5);
    return in;
}

struct Reference {
    std::vector<double> output, state;
};

Reference linearAttentionReference(const Config& c, const Inputs& in) {
    const int64_t group = c.qHeads / c.kvHeads;
    const double scale = c.scale != 0.0f ? double(c.scale) : 1.0 / std::sqrt(double(c.dk));
    Reference ref;
    ref.output.assign(size_t(c.batch * c.time * c.qHeads * c.dv), 0.0);
    ref.state.assign(size_t(c.batch * c.kvHeads * c.dk * c.dv), 0.0);
    for (int64_t b = 0; b < c.batch; ++b)
        for (int64_t h = 0; h < c.kvHeads; ++h) {
            // S[i][m], row-major in the state layout (B, H_kv, d_k, d_v).
            std::vector<double> S(size_t(c.dk * c.dv), 0.0);
            const int64_t base = (b * c.kvHeads + h) * c.dk * c.dv;
            if (c.withPast)
                for (int64_t e = 0; e < c.dk * c.dv; ++e) S[size_t(e)] = in.past.elementAsDouble(base + e);
            for (int64_t t = 0; t < c.time; ++t) {
                const int64_t token = b * c.time + t;
                auto key = [&](int64_t i) { return in.k.elementAsDouble((token * c.kvHeads + h) * c.dk + i); };
                std::vector<double> value(size_t(c.dv));
                for (int64_t m = 0; m < c.dv; ++m) value[size_t(m)] = in.v.elementAsDouble((token * c.kvHeads + h) * c.dv + m);
                if (gated(c))
                    for (int64_t i = 0; i < c.dk; ++i) {
                        const double g = c.perHeadDecay ? in.decay.elementAsDouble(token * c.kvHeads + h)
                                                        : in.decay.elementAsDouble((token * c.kvHeads + h) * c.dk + i);
                        for (int64_t m = 0; m < c.dv; ++m) S[size_t(i * c.dv + m)] *= std::exp(g);
                    }
                if (delta(c)) {
                    const double beta = c.sharedBeta ? in.beta.elementAsDouble(token) : in.beta.elementAsDouble(token * c.kvHeads + h);
                    std::vector<double> corrected(size_t(c.dv));
                    for (int64_t m = 0; m < c.dv; ++m) {
                        double recalled = 0;
                        for (int64_t i = 0; i < c.dk; ++i) recalled += S[size_t(i * c.dv + m)] * key(i);
                        corrected[size_t(m)] = beta * (value[size_t(m)] - recalled);
                    }
                    value = corrected;
                }
                for (int64_t i = 0; i < c.dk; ++i)
                    for (int64_t m = 0; m < c.dv; ++m) S[size_t(i * c.dv + m)] += key(i) * value[size_t(m)];
                for (int64_t hq = h * group; hq < (h + 1) * group; ++hq)
                    for (int64_t m = 0; m < c.dv; ++m) {
                        double sum = 0;
                        for (int64_t i = 0; i < c.dk; ++i)
                            sum += in.q.elementAsDouble((token * c.qHeads + hq) * c.dk + i) * S[size_t(i * c.dv + m)];
                        ref.output[size_t((token * c.qHeads + hq) * c.dv + m)] = scale * sum;
                    }
            }
            for (int64_t e = 0; e < c.dk * c.dv; ++e) ref.state[size_t(base + e)] = S[size_t(e)];
        }
    return ref;
}

SingleNodeRun runLinearAttention(const Config& c, const Inputs& in) {
    AttributeMap attrs;
    attrs.set("q_num_heads", c.qHeads);
    attrs.set("kv_num_heads", c.kvHeads);
    if (c.rule != "gated_delta") attrs.set("update_rule", c.rule);  // gated_delta is the default
    if (c.scale != 0.0f) attrs.set("scale", c.scale);
    return runOp("LinearAttention",
                 {&in.q, &in.k, &in.v, c.withPast ? &in.past : nullptr, gated(c) ? &in.decay : nullptr, delta(c) ? &in.beta : nullptr},
                 attrs, 2);
}

std::string describe(const Config& c) {
    return c.rule + " B" + std::to_string(c.batch) + " T" + std::to_string(c.time) + " Hq" + std::to_string(c.qHeads) + " Hkv" +
           std::to_string(c.kvHeads) + " dk" + std::to_string(c.dk) + " dv" + std::to_string(c.dv) +
           (c.perHeadDecay ? " per-head-decay" : "") + (c.sharedBeta ? " shared-beta" : "") + (c.withPast ? " past" : "") +
           " scale " + std::to_string(c.scale) + " " + dataTypeName(c.type) + "/" + dataTypeName(c.stateType);
}

void expectMatches(const Config& c, uint32_t seed, double rtol, double atol) {
    Inputs in = makeInputs(c, seed);
    SingleNodeRun run = runLinearAttention(c, in);
    ASSERT_TRUE(run.status) << describe(c) << ": " << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{c.batch, c.time, c.qHeads * c.dv})) << describe(c);
    ASSERT_EQ(run.outputs[1].shape(), (Shape{c.batch, c.kvHeads, c.dk, c.dv})) << describe(c);
    EXPECT_EQ(run.outputs[0].dtype(), c.type) << describe(c);
    EXPECT_EQ(run.outputs[1].dtype(), c.withPast ? c.stateType : c.type) << describe(c);
    Reference ref = linearAttentionReference(c, in);
    EXPECT_EQ(compareWithReference(run.outputs[0], ref.output, rtol, atol), "") << describe(c);
    EXPECT_EQ(compareWithReference(run.outputs[1], ref.state, rtol, atol), "") << describe(c);
}

TEST(LinearAttentionOp, EveryUpdateRuleWithAndWithoutPastState) {
    uint32_t seed = 100;
    for (const char* rule : {"linear", "gated", "delta", "gated_delta"})
        for (bool withPast : {false, true})
            for (int64_t time : {1, 5}) {
                Config c{rule, 2, time, 3, 3, 4, 5};
                c.withPast = withPast;
                expectMatches(c, seed += 10, 1e-4, 1e-5);
            }
}

TEST(LinearAttentionOp, DecayAndBetaLayouts) {
    uint32_t seed = 200;
    for (bool perHead : {false, true})
        for (bool shared : {false, true}) {
            Config c{"gated_delta", 2, 6, 2, 2, 3, 4};
            c.perHeadDecay = perHead;
            c.sharedBeta = shared;
            c.withPast = true;
            expectMatches(c, seed += 10, 1e-4, 1e-5);
        }
    Config gatedPerHead{"gated", 1, 4, 2, 2, 4, 3};
    gatedPerHead.perHeadDecay = true;
    expectMatches(gatedPerHead, 250, 1e-4, 1e-5);
}

TEST(LinearAttentionOp, GroupedAndMultiQueryHeads) {
    uint32_t seed = 300;
    for (const char* rule : {"linear", "gated_delta"}) {
        Config gqa{rule, 2, 4, 6, 2, 3, 5};  // three query heads per KV head
        gqa.withPast = true;
        expectMatches(gqa, seed += 10, 1e-4, 1e-5);
        Config mqa{rule, 1, 3, 4, 1, 4, 2};
        mqa.sharedBeta = true;
        expectMatches(mqa, seed += 10, 1e-4, 1e-5);
    }
}

TEST(LinearAttentionOp, ExplicitScale) {
    Config c{"delta", 2, 3, 2, 2, 4, 4};
    c.scale = 0.3f;
    expectMatches(c, 400, 1e-4, 1e-5);
}

TEST(LinearAttentionOp, HalfInputsAndStates) {
    // Float16 values are exact in double; the kernel's float32 state and one rounding per output
    // leave an error of about one half-precision ulp.
    Config halfAll{"gated_delta", 2, 4, 4, 2, 4, 4};
    halfAll.type = DataType::kHALF;
    halfAll.stateType = DataType::kHALF;
    halfAll.withPast = true;
    expectMatches(halfAll, 500, 2e-3, 2e-3);
    Config halfNoPast = halfAll;
    halfNoPast.withPast = false;
    expectMatches(halfNoPast, 510, 2e-3, 2e-3);
    // A float32 state with float16 activations: present_state keeps the state's type.
    Config mixed = halfAll;
    mixed.stateType = DataType::kFLOAT;
    expectMatches(mixed, 520, 2e-3, 2e-3);
}

TEST(LinearAttentionOp, RunsWithoutThePresentStateOutput) {
    Config c{"gated", 1, 3, 2, 2, 3, 3};
    Inputs in = makeInputs(c, 600);
    AttributeMap attrs = attrsOf({{"q_num_heads", int64_t{2}}, {"kv_num_heads", int64_t{2}}, {"update_rule", std::string("gated")}});
    SingleNodeRun run = runOp("LinearAttention", {&in.q, &in.k, &in.v, nullptr, &in.decay}, attrs, 1);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(compareWithReference(run.outputs[0], linearAttentionReference(c, in).output, 1e-4, 1e-5), "");
}

TEST(LinearAttentionOp, InferenceChecksHeadsRulesAndShapes) {
    const AttributeMap heads = attrsOf({{"q_num_heads", int64_t{4}}, {"kv_num_heads", int64_t{2}}});
    const Dim b = Dim::named("b"), t = Dim::named("t");
    InferResult r = inferOp("LinearAttention",
                            {symbolic(DataType::kHALF, {b, t, 32}), symbolic(DataType::kHALF, {b, t, 16}),
                             symbolic(DataType::kHALF, {b, t, 24}), symbolic(DataType::kFLOAT, {b, 2, 8, 12}),
                             symbolic(DataType::kHALF, {b, t, 2}), symbolic(DataType::kHALF, {b, t, 1})},
                            heads, 2);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, t, 48)");
    EXPECT_EQ(r.outputs[0].dtype, DataType::kHALF);
    EXPECT_EQ(shapeString(r.outputs[1]), "(b, 2, 8, 12)");
    EXPECT_EQ(r.outputs[1].dtype, DataType::kFLOAT);

    auto fails = [&](const std::vector<std::optional<InputSpec>>& inputs, AttributeMap attrs) {
        return !inferOp("LinearAttention", inputs, attrs, 2).status;
    };
    const InputSpec q = symbolic(DataType::kFLOAT, {2, 3, 32}), k = symbolic(DataType::kFLOAT, {2, 3, 16}),
                    v = symbolic(DataType::kFLOAT, {2, 3, 16}), decay = symbolic(DataType::kFLOAT, {2, 3, 16}),
                    beta = symbolic(DataType::kFLOAT, {2, 3, 2});
    AttributeMap linear = heads;
    linear.set("update_rule", std::string("linear"));
    EXPECT_FALSE(fails({q, k, v}, linear));
    EXPECT_TRUE(fails({q, k, v, std::nullopt, decay}, linear));                  // linear takes no decay
    EXPECT_TRUE(fails({q, k, v, std::nullopt, std::nullopt, beta}, heads));     // gated_delta needs decay
    EXPECT_TRUE(fails({q, k, v, std::nullopt, decay}, heads));                  // ... and beta
    EXPECT_TRUE(fails({q, k, v}, attrsOf({{"q_num_heads", int64_t{3}}, {"kv_num_heads", int64_t{2}}})));
    EXPECT_TRUE(fails({q, k, v}, attrsOf({{"q_num_heads", int64_t{4}}})));
    AttributeMap unknownRule = heads;
    unknownRule.set("update_rule", std::string("mamba"));
    EXPECT_TRUE(fails({q, k, v}, unknownRule));
    EXPECT_TRUE(fails({q, symbolic(DataType::kFLOAT, {2, 3, 12}), v}, linear));    // key head size differs
    EXPECT_TRUE(fails({q, k, symbolic(DataType::kFLOAT, {2, 4, 16})}, linear));    // sequence lengths differ
    EXPECT_TRUE(fails({q, k, v, std::nullopt, symbolic(DataType::kFLOAT, {2, 3, 5}), beta}, heads));
    EXPECT_TRUE(fails({q, k, v, std::nullopt, decay, symbolic(DataType::kFLOAT, {2, 3, 3})}, heads));
    EXPECT_TRUE(fails({q, k, v, symbolic(DataType::kFLOAT, {2, 2, 8, 7})}, linear));  // past_state's d_v
    EXPECT_TRUE(fails({symbolic(DataType::kDOUBLE, {2, 3, 32}), symbolic(DataType::kDOUBLE, {2, 3, 16}),
                       symbolic(DataType::kDOUBLE, {2, 3, 16})},
                      linear));
}

}  // namespace
}  // namespace kiln::test
