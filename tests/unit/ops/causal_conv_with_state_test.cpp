// CausalConvWithState against a double-precision reference written from the ONNX definition
// (depthwise valid convolution of past_state ++ input, bias, SiLU; present_state = the last k - 1
// positions of that sequence), on random data: every optional input present or absent, kernel
// sizes 1 to 5, inputs shorter than the state, float16, and the shape rules.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

struct ConvReference {
    std::vector<double> output, state;
};

ConvReference convReference(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor* past, bool silu) {
    const int64_t batch = x.shape()[0], channels = x.shape()[1], length = x.shape()[2], k = w.shape()[2];
    ConvReference ref;
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t c = 0; c < channels; ++c) {
            std::vector<double> padded;
            for (int64_t j = 0; j < k - 1; ++j) padded.push_back(past ? past->elementAsDouble((b * channels + c) * (k - 1) + j) : 0.0);
            for (int64_t t = 0; t < length; ++t) padded.push_back(x.elementAsDouble((b * channels + c) * length + t));
            for (int64_t t = 0; t < length; ++t) {
                double sum = bias ? bias->elementAsDouble(c) : 0.0;
                for (int64_t j = 0; j < k; ++j) sum += w.elementAsDouble(c * k + j) * padded[size_t(t + j)];
                ref.output.push_back(silu ? sum / (1.0 + std::exp(-sum)) : sum);
            }
            for (int64_t j = 0; j < k - 1; ++j) ref.state.push_back(padded[size_t(length + j)]);
        }
    return ref;
}

TEST(CausalConvWithStateOp, MatchesReferenceWithEveryOptionalInput) {
    struct Case {
        int64_t batch, channels, length, k;
    };
    uint32_t seed = 70;
    for (const Case& c : {Case{2, 3, 7, 4}, Case{1, 1, 6, 4}, Case{2, 4, 2, 5}, Case{3, 2, 5, 1}, Case{2, 5, 1, 3}})
        for (bool withBias : {false, true})
            for (bool withPast : {false, true})
                for (const char* activation : {"none", "silu", "swish"}) {
                    Tensor x = randomTensor(DataType::kFLOAT, {c.batch, c.channels, c.length}, -2, 2, ++seed);
                    Tensor w = randomTensor(DataType::kFLOAT, {c.channels, 1, c.k}, -1, 1, ++seed);
                    Tensor bias = randomTensor(DataType::kFLOAT, {c.channels}, -1, 1, ++seed);
                    Tensor past = randomTensor(DataType::kFLOAT, {c.batch, c.channels, c.k - 1}, -2, 2, ++seed);
                    AttributeMap attrs;
                    if (std::string(activation) != "none") attrs.set("activation", std::string(activation));
                    std::vector<const Tensor*> inputs{&x, &w, withBias ? &bias : nullptr, withPast ? &past : nullptr};
                    SingleNodeRun run = runOp("CausalConvWithState", inputs, attrs, 2);
                    const std::string what = "x " + shapeToString(x.shape()) + " k " + std::to_string(c.k) +
                                             (withBias ? " bias" : "") + (withPast ? " past" : "") + " " + activation;
                    ASSERT_TRUE(run.status) << what << ": " << run.status.message();
                    ASSERT_EQ(run.outputs[0].shape(), x.shape()) << what;
                    ASSERT_EQ(run.outputs[1].shape(), (Shape{c.batch, c.channels, c.k - 1})) << what;
                    ConvReference ref = convReference(x, w, withBias ? &bias : nullptr, withPast ? &past : nullptr,
                                                      std::string(activation) != "none");
                    EXPECT_EQ(compareWithReference(run.outputs[0], ref.output, 1e-5, 1e-6), "") << what;
                    expectExact(run.outputs[1], ref.state, what);
                }
}

TEST(CausalConvWithStateOp, HalfAndDoubleInputs) {
    for (DataType type : {DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
        Tensor x = randomTensor(type, {2, 3, 6}, -2, 2, 91);
        Tensor w = randomTensor(type, {3, 1, 3}, -1, 1, 92);
        Tensor bias = randomTensor(type, {3}, -1, 1, 93);
        Tensor past = randomTensor(type, {2, 3, 2}, -2, 2, 94);
        SingleNodeRun run = runOp("CausalConvWithState", {&x, &w, &bias, &past}, attrsOf({{"activation", std::string("silu")}}), 2);
        ASSERT_TRUE(run.status) << dataTypeName(type) << ": " << run.status.message();
        ASSERT_EQ(run.outputs[0].dtype(), type);
        ConvReference ref = convReference(x, w, &bias, &past, true);
        // One rounding of the double result: half an ulp of the type (plus an absolute floor near 0).
        const double tol = type == DataType::kHALF ? 1e-3 : type == DataType::kBF16 ? 8e-3 : 1e-12;
        EXPECT_EQ(compareWithReference(run.outputs[0], ref.output, tol, tol), "") << dataTypeName(type);
        expectExact(run.outputs[1], ref.state, dataTypeName(type));
    }
}

TEST(CausalConvWithStateOp, InfersTheStateShapeFromTheWeight) {
    InferResult r = inferOp("CausalConvWithState", {symbolic(DataType::kFLOAT, {Dim::named("b"), 16, Dim::named("t")}),
                                                    symbolic(DataType::kFLOAT, {16, 1, 4}), std::nullopt,
                                                    symbolic(DataType::kFLOAT, {Dim::unknown(), 16, 3})},
                            {}, 2);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 16, t)");
    EXPECT_EQ(shapeString(r.outputs[1]), "(b, 16, 3)");

    auto fails = [](const std::vector<std::optional<InputSpec>>& inputs, const AttributeMap& attrs = {}) {
        return !inferOp("CausalConvWithState", inputs, attrs, 2).status;
    };
    const InputSpec x = symbolic(DataType::kFLOAT, {2, 4, 8});
    EXPECT_TRUE(fails({x, symbolic(DataType::kFLOAT, {3, 1, 4})}));                     // kernels for 3 channels
    EXPECT_TRUE(fails({x, symbolic(DataType::kFLOAT, {4, 2, 4})}));                     // not depthwise
    EXPECT_TRUE(fails({x, symbolic(DataType::kFLOAT, {4, 1, 4}), symbolic(DataType::kFLOAT, {3})}));
    EXPECT_TRUE(fails({x, symbolic(DataType::kFLOAT, {4, 1, 4}), std::nullopt, symbolic(DataType::kFLOAT, {2, 4, 4})}));
    EXPECT_TRUE(fails({x, symbolic(DataType::kHALF, {4, 1, 4})}));
    EXPECT_TRUE(fails({symbolic(DataType::kINT32, {2, 4, 8}), symbolic(DataType::kINT32, {4, 1, 4})}));
    EXPECT_TRUE(fails({x, symbolic(DataType::kFLOAT, {4, 1, 4})}, attrsOf({{"activation", std::string("relu")}})));
    EXPECT_TRUE(fails({symbolic(DataType::kFLOAT, {2, 4}), symbolic(DataType::kFLOAT, {4, 1, 4})}));
}

TEST(CausalConvWithStateOp, RunsWithoutThePresentStateOutput) {
    Tensor x = randomTensor(DataType::kFLOAT, {1, 2, 5}, -2, 2, 5);
    Tensor w = randomTensor(DataType::kFLOAT, {2, 1, 3}, -1, 1, 6);
    SingleNodeRun run = runOp("CausalConvWithState", {&x, &w}, {}, 1);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(compareWithReference(run.outputs[0], convReference(x, w, nullptr, nullptr, false).output, 1e-5, 1e-6), "");
}

}  // namespace
}  // namespace kiln::test
