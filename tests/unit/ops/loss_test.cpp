// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss against double-precision references on
// random scores, targets and weights (every reduction, with and without ignore_index), the
// errors they give for bad input, and their shape inference.

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

const DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16};
const char* const kReductions[] = {"none", "sum", "mean"};

struct LossReference {
    std::vector<double> loss;     // per target ("none") or one value
    std::vector<double> logProb;  // SCE only: log-softmax of the scores over axis 1
};

/// The loss as ONNX defines it, in double from the (rounded) stored inputs.
LossReference lossReference(const Tensor& scores, const Tensor& target, const Tensor* weight,
                            const std::string& reduction, std::optional<int64_t> ignoreIndex, bool softmax) {
    const Shape& shape = scores.shape();
    const int64_t batch = shape[0], classes = shape[1];
    int64_t inner = 1;
    for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
    std::vector<double> logProb = scores.toDoubleVector();
    if (softmax) {
        for (int64_t n = 0; n < batch; ++n)
            for (int64_t d = 0; d < inner; ++d) {
                auto at = [&](int64_t c) -> double& { return logProb[static_cast<size_t>((n * classes + c) * inner + d)]; };
                double maxScore = -std::numeric_limits<double>::infinity();
                for (int64_t c = 0; c < classes; ++c) maxScore = std::max(maxScore, at(c));
                double sum = 0;
                for (int64_t c = 0; c < classes; ++c) sum += std::exp(at(c) - maxScore);
                const double logSum = maxScore + std::log(sum);
                for (int64_t c = 0; c < classes; ++c) at(c) -= logSum;
            }
    }
    LossReference ref;
    double total = 0, weightTotal = 0;
    for (int64_t p = 0; p < batch * inner; ++p) {
        const auto t = static_cast<int64_t>(target.elementAsDouble(p));
        double value = 0;
        if (!(ignoreIndex && t == *ignoreIndex)) {
            const double w = weight ? weight->elementAsDouble(t) : 1.0;
            value = -w * logProb[static_cast<size_t>(((p / inner) * classes + t) * inner + p % inner)];
            weightTotal += w;
        }
        total += value;
        if (reduction == "none") ref.loss.push_back(value);
    }
    if (reduction == "sum") ref.loss = {total};
    if (reduction == "mean") ref.loss = {total / weightTotal};
    if (softmax) ref.logProb = std::move(logProb);
    return ref;
}

/// Sets every third element of an int32 or int64 tensor to `value`.
void setEveryThird(Tensor& t, int64_t value) {
    for (int64_t i = 0; i < t.elementCount(); i += 3) {
        if (t.dtype() == DataType::kINT32) t.data<int32_t>()[i] = static_cast<int32_t>(value);
        else t.data<int64_t>()[i] = value;
    }
}

/// Runs every combination of shape, type, target type, weight, reduction and ignore_index.
void checkLossAgainstReference(const std::string& op, bool softmax) {
    uint32_t seed = 7;
    for (const Shape& shape : {Shape{6, 5}, Shape{3, 4, 7}, Shape{2, 3, 4, 3}, Shape{2, 5, 2, 1, 3}}) {
        const int64_t classes = shape[1];
        Shape targetShape = shape;
        targetShape.erase(targetShape.begin() + 1);
        for (DataType type : kFloatTypes) {
            for (DataType indexType : {DataType::kINT64, DataType::kINT32}) {
                for (bool weighted : {false, true}) {
                    for (const char* reduction : kReductions) {
                        // No ignore_index; one inside the class range; a negative one.
                        for (std::optional<int64_t> ignore : {std::optional<int64_t>{}, std::optional<int64_t>{1},
                                                              std::optional<int64_t>{-3}}) {
                            Tensor scores = randomTensor(type, shape, -4.0, 4.0, seed++);
                            Tensor target = randomTensor(indexType, targetShape, 0.0, static_cast<double>(classes), seed++);
                            // A negative ignore_index lies outside [0, C): plant it in every third target.
                            if (ignore && *ignore < 0) setEveryThird(target, *ignore);
                            Tensor weight = randomTensor(type, {classes}, 0.25, 2.0, seed++);
                            AttributeMap attrs = attrsOf({{"reduction", std::string(reduction)}});
                            if (ignore) attrs.set("ignore_index", *ignore);
                            const size_t outputs = softmax ? 2 : 1;
                            std::vector<Tensor> got = runNode(op, {&scores, &target, weighted ? &weight : nullptr},
                                                              outputs, attrs);
                            const LossReference ref = lossReference(scores, target, weighted ? &weight : nullptr,
                                                                    reduction, ignore, softmax);
                            const std::string what = op + " " + dataTypeName(type) + " " + shapeToString(shape, true) +
                                                     " target " + dataTypeName(indexType) + (weighted ? " weighted" : "") +
                                                     " reduction " + reduction +
                                                     (ignore ? " ignore_index " + std::to_string(*ignore) : "");
                            const Shape lossShape = std::string(reduction) == "none" ? targetShape : Shape{};
                            expectClose(got[0], type, lossShape, ref.loss, tolFor(type, target.elementCount()), what);
                            if (softmax) expectClose(got[1], type, shape, ref.logProb, tolFor(type, classes), what + " log_prob");
                        }
                    }
                }
            }
        }
    }
}

TEST(NegativeLogLikelihoodLoss, MatchesReference) { checkLossAgainstReference("NegativeLogLikelihoodLoss", false); }

TEST(SoftmaxCrossEntropyLoss, MatchesReference) { checkLossAgainstReference("SoftmaxCrossEntropyLoss", true); }

TEST(SoftmaxCrossEntropyLoss, LogProbOutputMayBeOmitted) {
    Tensor scores = randomTensor(DataType::kFLOAT, {4, 6}, -3.0, 3.0, 11);
    Tensor labels = randomTensor(DataType::kINT64, {4}, 0.0, 6.0, 12);
    Tensor loss = runOne("SoftmaxCrossEntropyLoss", {&scores, &labels}, attrsOf({{"reduction", std::string("sum")}}));
    const LossReference ref = lossReference(scores, labels, nullptr, "sum", std::nullopt, true);
    expectClose(loss, DataType::kFLOAT, {}, ref.loss, tolFor(DataType::kFLOAT, 4), "SCE without log_prob");
}

TEST(SoftmaxCrossEntropyLoss, LargeScoresStayFinite) {
    // log-softmax of large scores must subtract the maximum first, or exp overflows.
    Tensor scores = randomTensor(DataType::kFLOAT, {3, 4}, 500.0, 900.0, 21);
    Tensor labels = randomTensor(DataType::kINT32, {3}, 0.0, 4.0, 22);
    std::vector<Tensor> got =
        runNode("SoftmaxCrossEntropyLoss", {&scores, &labels}, 2, attrsOf({{"reduction", std::string("none")}}));
    const LossReference ref = lossReference(scores, labels, nullptr, "none", std::nullopt, true);
    for (double v : ref.loss) ASSERT_TRUE(std::isfinite(v));
    expectClose(got[0], DataType::kFLOAT, {3}, ref.loss, {1e-4, 1e-3}, "SCE with large scores");
}

TEST(NegativeLogLikelihoodLoss, TargetOutsideClassesIsAnError) {
    Tensor scores = randomTensor(DataType::kFLOAT, {2, 3}, -1.0, 1.0, 31);
    for (int64_t bad : {3, -1}) {
        Tensor target = Tensor::fromInt64({0, bad}, {2});
        for (const char* op : {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"}) {
            SingleNodeRun run = runSingleNode(op, {&scores, &target}, 1, {});
            ASSERT_FALSE(run.status.isOk()) << op << " target " << bad;
            EXPECT_NE(run.status.message().find("target " + std::to_string(bad)), std::string::npos)
                << run.status.message();
        }
    }
    // The same value is fine when it is the ignore_index.
    Tensor target = Tensor::fromInt64({0, -1}, {2});
    Tensor loss = runOne("NegativeLogLikelihoodLoss", {&scores, &target}, attrsOf({{"ignore_index", int64_t{-1}}}));
    expectClose(loss, DataType::kFLOAT, {}, {-scores.elementAsDouble(0)}, tolFor(DataType::kFLOAT), "ignored -1");
}

TEST(LossInference, ShapesAndTypes) {
    const SymShape scores = {Dim::named("batch"), Dim(5), Dim(7), Dim::named("w")};
    const SymShape target = {Dim::named("batch"), Dim(7), Dim(9)};
    for (const char* op : {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"}) {
        // The scores' extents fill in the target's unknown ones.
        InferResult none = inferOne(op, {InputSpec::of(DataType::kHALF, scores), InputSpec::of(DataType::kINT64, target)},
                                    1, attrsOf({{"reduction", std::string("none")}}));
        EXPECT_EQ(inferredShape(none), "(batch, 7, 9)") << op;
        if (none.status.isOk()) EXPECT_EQ(none.outputs[0].dtype, DataType::kHALF);
        InferResult mean = inferOne(op, {InputSpec::of(DataType::kFLOAT, scores), InputSpec::of(DataType::kINT32, target),
                                         InputSpec::of(DataType::kFLOAT, {Dim(5)})}, 1);
        EXPECT_EQ(inferredShape(mean), "()") << op;
    }
    InferResult withLogProb = inferOne("SoftmaxCrossEntropyLoss",
                                       {InputSpec::of(DataType::kDOUBLE, scores), InputSpec::of(DataType::kINT64, target)},
                                       2, attrsOf({{"reduction", std::string("sum")}}));
    EXPECT_EQ(inferredShape(withLogProb, 1), "(batch, 5, 7, w)");
}

TEST(LossInference, RejectsBadInputs) {
    const InputSpec scores = InputSpec::of(DataType::kFLOAT, {Dim(4), Dim(5), Dim(6)});
    const InputSpec target = InputSpec::of(DataType::kINT64, {Dim(4), Dim(6)});
    struct Case {
        std::vector<InputSpec> inputs;
        AttributeMap attrs;
        const char* expected;
    };
    const std::vector<Case> cases = {
        {{scores, InputSpec::of(DataType::kINT64, {Dim(4)})}, {}, "without its class axis"},
        {{scores, InputSpec::of(DataType::kINT64, {Dim(4), Dim(7)})}, {}, "does not match"},
        {{scores, InputSpec::of(DataType::kFLOAT, {Dim(4), Dim(6)})}, {}, "int32 or int64"},
        {{InputSpec::of(DataType::kINT32, {Dim(4), Dim(5), Dim(6)}), target}, {}, "float16, bfloat16, float or double"},
        {{InputSpec::of(DataType::kFLOAT, {Dim(4)}), InputSpec::of(DataType::kINT64, {})}, {}, "rank >= 2"},
        {{scores, target, InputSpec::of(DataType::kFLOAT, {Dim(6)})}, {}, "6 entries for 5 classes"},
        {{scores, target, InputSpec::of(DataType::kDOUBLE, {Dim(5)})}, {}, "weight has type"},
        {{scores, target}, attrsOf({{"reduction", std::string("max")}}), "reduction must be none, sum or mean"},
    };
    for (const char* op : {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"})
        for (const Case& c : cases) {
            InferResult r = inferOne(op, c.inputs, 1, c.attrs);
            ASSERT_FALSE(r.status.isOk()) << op << " expected: " << c.expected;
            EXPECT_NE(r.status.message().find(c.expected), std::string::npos) << r.status.message();
        }
}

}  // namespace
}  // namespace kiln::test
