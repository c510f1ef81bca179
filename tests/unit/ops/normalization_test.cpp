// BatchNormalization, LayerNormalization, InstanceNormalization, GroupNormalization,
// LpNormalization and MeanVarianceNormalization against double-precision references; and their
// shape inference.

#include <cmath>
#include <map>

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

const DataType kFloatTypes[] = {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16};

/// Tolerance of a normalized result (values ~1) for `type`.
Tol normTol(DataType type) {
    Tol t = tolFor(type, 1);
    return {t.rtol * 2, std::max(t.atol * 4, type == DataType::kFLOAT ? 1e-5 : t.atol * 4)};
}

TEST(BatchNormalization, PerChannelAffine) {
    uint32_t seed = 1;
    for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 7, 9}, Shape{3, 4}, Shape{6}, Shape{2, 3, 2, 3, 2}, Shape{0, 3, 2}}) {
        for (DataType type : kFloatTypes) {
            // Parameters of another precision than X (ONNX's T, T1, T2 may differ).
            const DataType paramType = type == DataType::kFLOAT ? DataType::kDOUBLE : DataType::kFLOAT;
            const int64_t channels = shape.size() >= 2 ? shape[1] : 1;
            Tensor x = randomTensor(type, shape, -3.0, 3.0, seed++);
            Tensor scale = randomTensor(paramType, {channels}, 0.5, 2.0, seed++);
            Tensor bias = randomTensor(paramType, {channels}, -1.0, 1.0, seed++);
            Tensor mean = randomTensor(type, {channels}, -0.5, 0.5, seed++);
            Tensor var = randomTensor(type, {channels}, 0.2, 3.0, seed++);
            const float epsilon = 1e-3f;
            Tensor out = runOne("BatchNormalization", {&x, &scale, &bias, &mean, &var}, attrsOf({{"epsilon", epsilon}}));
            const std::vector<double> vx = x.toDoubleVector();
            int64_t size = 1;
            for (size_t d = 2; d < shape.size(); ++d) size *= shape[d];
            std::vector<double> ref(vx.size());
            for (size_t i = 0; i < vx.size(); ++i) {
                const int64_t c = (static_cast<int64_t>(i) / size) % channels;
                ref[i] = (vx[i] - mean.elementAsDouble(c)) / std::sqrt(var.elementAsDouble(c) + epsilon) *
                             scale.elementAsDouble(c) + bias.elementAsDouble(c);
            }
            expectClose(out, type, shape, ref, normTol(type),
                        std::string("BatchNormalization ") + dataTypeName(type) + " " + shapeToString(shape, true));
        }
    }
}

/// LayerNormalization reference; mean and inverse standard deviation per row are returned too.
std::vector<double> layerNormReference(const Tensor& x, const Tensor& scale, const Tensor* bias, int64_t axis,
                                       double epsilon, std::vector<double>& means, std::vector<double>& invStds) {
    const Shape& shape = x.shape();
    const size_t a = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis);
    int64_t outer = 1;
    for (size_t d = 0; d < a; ++d) outer *= shape[d];
    const Shape normalized(shape.begin() + static_cast<std::ptrdiff_t>(a), shape.end());
    const int64_t inner = shapeElementCount(normalized);
    const std::vector<double> v = x.toDoubleVector();
    // Scale / bias broadcast against the normalized block (right-aligned; leading axes are 1).
    auto paramAt = [&](const Tensor& p, int64_t j) {
        const Shape& ps = p.shape();
        int64_t offset = 0, stride = 1, rest = j;
        for (size_t d = normalized.size(); d-- > 0;) {
            const int64_t coord = rest % normalized[d];
            rest /= normalized[d];
            const int64_t pd = static_cast<int64_t>(d) - static_cast<int64_t>(normalized.size() - ps.size());
            if (pd < 0) continue;
            const int64_t extent = ps[static_cast<size_t>(pd)];
            if (extent != 1) offset += coord * stride;
            stride *= extent;
        }
        return p.elementAsDouble(offset);
    };
    std::vector<double> out(v.size());
    for (int64_t o = 0; o < outer; ++o) {
        double sum = 0, squares = 0;
        for (int64_t j = 0; j < inner; ++j) sum += v[static_cast<size_t>(o * inner + j)];
        const double mean = sum / static_cast<double>(inner);
        for (int64_t j = 0; j < inner; ++j) {
            const double d = v[static_cast<size_t>(o * inner + j)] - mean;
            squares += d * d;
        }
        const double invStd = 1.0 / std::sqrt(squares / static_cast<double>(inner) + epsilon);
        means.push_back(mean);
        invStds.push_back(invStd);
        for (int64_t j = 0; j < inner; ++j)
            out[static_cast<size_t>(o * inner + j)] = (v[static_cast<size_t>(o * inner + j)] - mean) * invStd *
                                                         paramAt(scale, j) + (bias ? paramAt(*bias, j) : 0.0);
    }
    return out;
}

TEST(LayerNormalization, AxesBroadcastAndStatistics) {
    struct Case {
        Shape x;
        int64_t axis;
        Shape scale;
        std::optional<Shape> bias;
    };
    const std::vector<Case> cases = {
        {{2, 5, 768}, -1, {768}, Shape{768}},        // BERT
        {{3, 4, 5}, 1, {4, 5}, Shape{5}},            // two normalized axes, bias broadcast
        {{3, 4, 5}, 1, {1, 5}, std::nullopt},         // scale broadcast over an axis, no bias
        {{3, 4, 5}, -3, {3, 4, 5}, Shape{1}},        // whole tensor
        {{7, 13}, 1, {1}, Shape{13}},                // scalar-like scale
        {{0, 6}, -1, {6}, Shape{6}},                 // empty batch
    };
    uint32_t seed = 100;
    for (const Case& c : cases) {
        for (DataType type : kFloatTypes) {
            Tensor x = randomTensor(type, c.x, -2.0, 3.0, seed++);
            Tensor scale = randomTensor(type, c.scale, 0.5, 1.5, seed++);
            std::optional<Tensor> bias;
            if (c.bias) bias = randomTensor(type, *c.bias, -1.0, 1.0, seed++);
            const float epsilon = 1e-5f;
            std::vector<const Tensor*> inputs{&x, &scale};
            if (bias) inputs.push_back(&*bias);
            std::vector<Tensor> out =
                runNode("LayerNormalization", inputs, 3, attrsOf({{"axis", c.axis}, {"epsilon", epsilon}}));
            std::vector<double> means, invStds;
            std::vector<double> ref = layerNormReference(x, scale, bias ? &*bias : nullptr, c.axis, epsilon, means, invStds);
            const std::string what = std::string("LayerNormalization ") + dataTypeName(type) + " " +
                                     shapeToString(c.x, true) + " axis " + std::to_string(c.axis);
            expectClose(out[0], type, c.x, ref, normTol(type), what);
            Shape statShape = c.x;
            const size_t a = static_cast<size_t>(c.axis < 0 ? c.axis + static_cast<int64_t>(c.x.size()) : c.axis);
            for (size_t d = a; d < statShape.size(); ++d) statShape[d] = 1;
            // The statistics are stored as float (stash_type 1): computed from the same inputs.
            expectClose(out[1], DataType::kFLOAT, statShape, means, {1e-5, 1e-6}, what + " mean");
            expectClose(out[2], DataType::kFLOAT, statShape, invStds, {1e-5, 1e-6}, what + " inv_std_dev");
        }
    }
}

TEST(LayerNormalization, DoubleStash) {
    Tensor x = randomTensor(DataType::kFLOAT, {4, 6}, -1.0, 1.0, 7);
    Tensor scale = randomTensor(DataType::kFLOAT, {6}, 0.5, 1.5, 8);
    std::vector<Tensor> out = runNode("LayerNormalization", {&x, &scale}, 2, attrsOf({{"stash_type", int64_t{11}}}));
    std::vector<double> means, invStds;
    layerNormReference(x, scale, nullptr, -1, 1e-5f, means, invStds);
    expectClose(out[1], DataType::kDOUBLE, {4, 1}, means, {1e-12, 1e-14}, "double mean");
}

/// Instance (groups == channels) and group normalization reference, scale and bias per channel.
std::vector<double> groupNormReference(const Tensor& x, const Tensor& scale, const Tensor& bias, int64_t groups,
                                       double epsilon) {
    const Shape& shape = x.shape();
    const int64_t n = shape[0], channels = shape[1];
    const int64_t size = shapeElementCount(shape) / std::max<int64_t>(n * channels, 1);
    const int64_t perGroup = channels / groups;
    const std::vector<double> v = x.toDoubleVector();
    std::vector<double> out(v.size());
    for (int64_t b = 0; b < n * groups; ++b) {
        const int64_t begin = b * perGroup * size, count = perGroup * size;
        double sum = 0, squares = 0;
        for (int64_t i = 0; i < count; ++i) sum += v[static_cast<size_t>(begin + i)];
        const double mean = sum / static_cast<double>(count);
        for (int64_t i = 0; i < count; ++i) squares += std::pow(v[static_cast<size_t>(begin + i)] - mean, 2);
        const double invStd = 1.0 / std::sqrt(squares / static_cast<double>(count) + epsilon);
        for (int64_t i = 0; i < count; ++i) {
            const int64_t c = (b % groups) * perGroup + i / size;
            out[static_cast<size_t>(begin + i)] =
                (v[static_cast<size_t>(begin + i)] - mean) * invStd * scale.elementAsDouble(c) + bias.elementAsDouble(c);
        }
    }
    return out;
}

TEST(RMSNormalization, MatchesTheRootMeanSquareReference) {
    // Inputs far from zero mean: RMS does not center, so a kernel that subtracted the mean would fail.
    for (int64_t axis : {-1, 1}) {
        Tensor x = randomTensor(DataType::kFLOAT, {3, 4, 6}, 0.5, 3.0, 31 + static_cast<uint32_t>(axis + 2));
        Shape normalized = axis == -1 ? Shape{6} : Shape{4, 6};
        Tensor scale = randomTensor(DataType::kFLOAT, normalized, 0.5, 1.5, 40);
        AttributeMap attrs;
        attrs.set("axis", axis);
        attrs.set("epsilon", 1e-3f);
        SingleNodeRun run = runSingleNode("RMSNormalization", {&x, &scale}, 1, attrs);
        ASSERT_TRUE(run.status.isOk()) << run.status.message();
        const int64_t inner = axis == -1 ? 6 : 24, outer = 72 / inner;
        std::vector<double> expected(72);
        for (int64_t o = 0; o < outer; ++o) {
            double squares = 0;
            for (int64_t j = 0; j < inner; ++j) squares += std::pow(double(x.data<float>()[o * inner + j]), 2);
            const double inv = 1.0 / std::sqrt(squares / static_cast<double>(inner) + 1e-3);
            for (int64_t j = 0; j < inner; ++j)
                expected[static_cast<size_t>(o * inner + j)] =
                    double(x.data<float>()[o * inner + j]) * inv * scale.data<float>()[j];
        }
        EXPECT_EQ(compareWithReference(run.outputs[0], expected, 1e-5, 1e-6), "") << "axis " << axis;
    }
}

TEST(InstanceAndGroupNormalization, Statistics) {
    uint32_t seed = 200;
    for (const Shape& shape : {Shape{2, 6, 5, 4}, Shape{1, 4, 9}, Shape{2, 6, 2, 3, 2}, Shape{1, 32, 16, 16}}) {
        for (DataType type : kFloatTypes) {
            Tensor x = randomTensor(type, shape, -2.0, 4.0, seed++);
            Tensor scale = randomTensor(type, {shape[1]}, 0.5, 1.5, seed++);
            Tensor bias = randomTensor(type, {shape[1]}, -1.0, 1.0, seed++);
            const std::string what = std::string(dataTypeName(type)) + " " + shapeToString(shape, true);
            Tensor instance = runOne("InstanceNormalization", {&x, &scale, &bias}, attrsOf({{"epsilon", 1e-4f}}));
            expectClose(instance, type, shape, groupNormReference(x, scale, bias, shape[1], 1e-4f), normTol(type),
                        "InstanceNormalization " + what);
            const int64_t groups = shape[1] / 2;
            Tensor group = runOne("GroupNormalization", {&x, &scale, &bias},
                                  attrsOf({{"num_groups", groups}, {"epsilon", 1e-5f}}));
            expectClose(group, type, shape, groupNormReference(x, scale, bias, groups, 1e-5f), normTol(type),
                        "GroupNormalization " + what);
        }
    }
}

TEST(LpNormalization, EveryAxisBothNorms) {
    uint32_t seed = 300;
    const Shape shape{3, 4, 5};
    for (DataType type : kFloatTypes) {
        for (int64_t p : {1, 2}) {
            for (int64_t axis = -3; axis < 3; ++axis) {
                Tensor x = randomTensor(type, shape, -2.0, 2.0, seed++);
                Tensor out = runOne("LpNormalization", {&x}, attrsOf({{"axis", axis}, {"p", p}}));
                const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
                const Shape strides = stridesOf(shape);
                const std::vector<double> v = x.toDoubleVector();
                std::vector<double> ref(v.size());
                for (size_t i = 0; i < v.size(); ++i) {
                    const int64_t base = static_cast<int64_t>(i) - ((static_cast<int64_t>(i) / strides[a]) % shape[a]) * strides[a];
                    double norm = 0;
                    for (int64_t k = 0; k < shape[a]; ++k) {
                        const double e = v[static_cast<size_t>(base + k * strides[a])];
                        norm += p == 1 ? std::fabs(e) : e * e;
                    }
                    ref[i] = v[i] / (p == 1 ? norm : std::sqrt(norm));
                }
                expectClose(out, type, shape, ref, normTol(type),
                            std::string("LpNormalization ") + dataTypeName(type) + " p" + std::to_string(p) + " axis " +
                                std::to_string(axis));
            }
        }
    }
    Tensor zeros = Tensor::allocate(DataType::kFLOAT, {2, 3});
    Tensor out = runOne("LpNormalization", {&zeros});
    expectClose(out, DataType::kFLOAT, {2, 3}, std::vector<double>(6, 0.0), {0, 0}, "all-zero rows stay zero");
}

TEST(MeanVarianceNormalization, AxesSets) {
    uint32_t seed = 400;
    const Shape shape{2, 3, 4, 5};
    for (const std::optional<Shape>& axes : {std::optional<Shape>{}, std::optional<Shape>{Shape{1}},
                                             std::optional<Shape>{Shape{2, 3}}, std::optional<Shape>{Shape{0, -1}}}) {
        for (DataType type : kFloatTypes) {
            Tensor x = randomTensor(type, shape, -2.0, 3.0, seed++);
            AttributeMap attrs;
            if (axes) attrs.set("axes", *axes);
            Tensor out = runOne("MeanVarianceNormalization", {&x}, attrs);
            std::vector<bool> reduced(4, false);
            for (int64_t axis : axes.value_or(Shape{0, 2, 3})) reduced[static_cast<size_t>(axis < 0 ? axis + 4 : axis)] = true;
            const Shape strides = stridesOf(shape);
            const std::vector<double> v = x.toDoubleVector();
            // Group elements by their kept coordinates.
            auto key = [&](size_t i) {
                int64_t k = 0;
                for (size_t d = 0; d < 4; ++d)
                    if (!reduced[d]) k = k * shape[d] + (static_cast<int64_t>(i) / strides[d]) % shape[d];
                return k;
            };
            std::map<int64_t, std::pair<double, double>> stats;  // sum, count
            for (size_t i = 0; i < v.size(); ++i) {
                stats[key(i)].first += v[i];
                stats[key(i)].second += 1;
            }
            std::map<int64_t, double> squares;
            for (size_t i = 0; i < v.size(); ++i) {
                const auto& [sum, count] = stats[key(i)];
                squares[key(i)] += std::pow(v[i] - sum / count, 2);
            }
            std::vector<double> ref(v.size());
            for (size_t i = 0; i < v.size(); ++i) {
                const auto& [sum, count] = stats[key(i)];
                ref[i] = (v[i] - sum / count) / (std::sqrt(squares[key(i)] / count) + 1e-9);
            }
            expectClose(out, type, shape, ref, normTol(type), std::string("MeanVarianceNormalization ") + dataTypeName(type));
        }
    }
}

TEST(NormalizationInference, ShapesAndErrors) {
    const Dim batch = Dim::named("batch"), seq = Dim::named("seq");
    auto f = [](SymShape s) { return InputSpec::of(DataType::kFLOAT, std::move(s)); };
    auto layer = inferOne("LayerNormalization", {f({batch, seq, 768}), f({768}), f({768})}, 3);
    ASSERT_TRUE(layer.status.isOk()) << layer.status.message();
    EXPECT_EQ(symShapeToString(layer.outputs[0].shape), "(batch, seq, 768)");
    EXPECT_EQ(symShapeToString(layer.outputs[1].shape), "(batch, seq, 1)");
    EXPECT_EQ(layer.outputs[2].dtype, DataType::kFLOAT);
    auto layerHalf = inferOne("LayerNormalization",
                              {InputSpec::of(DataType::kHALF, {batch, 4}), InputSpec::of(DataType::kHALF, {4})}, 2,
                              attrsOf({{"axis", int64_t{0}}}));
    ASSERT_TRUE(layerHalf.status.isOk()) << layerHalf.status.message();
    EXPECT_EQ(layerHalf.outputs[0].dtype, DataType::kHALF);
    EXPECT_EQ(layerHalf.outputs[1].dtype, DataType::kFLOAT);
    EXPECT_EQ(symShapeToString(layerHalf.outputs[1].shape), "(1, 1)");

    EXPECT_EQ(inferredShape(inferOne("BatchNormalization", {f({batch, 8, 5, 5}), f({8}), f({8}), f({8}), f({8})}, 1)),
              "(batch, 8, 5, 5)");
    EXPECT_EQ(inferredShape(inferOne("GroupNormalization", {f({batch, 8, seq}), f({8}), f({8})}, 1,
                                     attrsOf({{"num_groups", int64_t{4}}}))),
              "(batch, 8, seq)");
    EXPECT_EQ(inferredShape(inferOne("MeanVarianceNormalization", {f({batch, 3, 4, 4})}, 1)), "(batch, 3, 4, 4)");

    auto expectError = [](const InferResult& r, const std::string& fragment) {
        ASSERT_FALSE(r.status.isOk());
        EXPECT_NE(r.status.message().find(fragment), std::string::npos) << r.status.message();
    };
    expectError(inferOne("BatchNormalization", {f({2, 8, 5}), f({7}), f({8}), f({8}), f({8})}, 1), "scale");
    expectError(inferOne("BatchNormalization", {f({2, 8, 5}), f({8}), f({8}), f({8}), f({8})}, 3), "outputs");
    expectError(inferOne("LayerNormalization", {f({2, 8}), f({8})}, 1, attrsOf({{"axis", int64_t{2}}})), "axis");
    expectError(inferOne("LayerNormalization", {f({2, 8}), f({7})}, 1), "broadcast");
    expectError(inferOne("LayerNormalization", {f({2, 8}), f({8})}, 1, attrsOf({{"stash_type", int64_t{7}}})),
                "stash_type");
    expectError(inferOne("GroupNormalization", {f({2, 8, 5}), f({8}), f({8})}, 1), "num_groups");
    expectError(inferOne("GroupNormalization", {f({2, 8, 5}), f({8}), f({8})}, 1, attrsOf({{"num_groups", int64_t{3}}})),
                "divisible");
    expectError(inferOne("GroupNormalization", {f({2, 8, 5}), f({4}), f({4})}, 1, attrsOf({{"num_groups", int64_t{4}}})),
                "per group");
    expectError(inferOne("InstanceNormalization", {f({2, 8, 5}), f({8}), f({3})}, 1), "B");
    expectError(inferOne("LpNormalization", {f({2, 8})}, 1, attrsOf({{"p", int64_t{3}}})), "p must be 1 or 2");
    expectError(inferOne("MeanVarianceNormalization", {f({2, 8, 5})}, 1), "out of range");
    expectError(inferOne("InstanceNormalization", {InputSpec::of(DataType::kINT32, {2, 8, 5}), f({8}), f({8})}, 1),
                "type");
}

TEST(BatchNormalization, TrainingModeIsRejectedWithAReason) {
    Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, -1, 1, 1);
    Tensor p = randomTensor(DataType::kFLOAT, {3}, 0.5, 1, 2);
    SingleNodeRun run = runSingleNode("BatchNormalization", {&x, &p, &p, &p, &p}, 3,
                                      attrsOf({{"training_mode", int64_t{1}}}));
    ASSERT_FALSE(run.status.isOk());
    EXPECT_NE(run.status.message().find("training_mode"), std::string::npos) << run.status.message();
}

}  // namespace
}  // namespace kiln::test
