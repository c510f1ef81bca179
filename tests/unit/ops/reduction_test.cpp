// ReduceX and ArgMax / ArgMin against double-precision references: every axis set (contiguous,
// strided and scattered), keepdims, negative axes, empty and omitted axes, empty reductions,
// several dtypes; and their shape inference.

#include <algorithm>
#include <limits>
#include <map>

#include "backends/cpu/kernel_registry.h"
#include "matmul_test_util.h"

namespace kiln::test {
namespace {

const char* const kReduceOps[] = {"ReduceSum", "ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",
                                  "ReduceL1",  "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};

double applyReduce(const std::string& op, const std::vector<double>& v, bool integer) {
    const double inf = std::numeric_limits<double>::infinity();
    double r = 0;
    if (op == "ReduceSum" || op == "ReduceMean") {
        for (double x : v) r += x;
        if (op == "ReduceMean") r = integer ? std::trunc(r / static_cast<double>(v.size())) : r / static_cast<double>(v.size());
    } else if (op == "ReduceMax") {
        r = -inf;
        for (double x : v) r = std::max(r, x);
    } else if (op == "ReduceMin") {
        r = inf;
        for (double x : v) r = std::min(r, x);
    } else if (op == "ReduceProd") {
        r = 1;
        for (double x : v) r *= x;
    } else if (op == "ReduceL1") {
        for (double x : v) r += std::fabs(x);
    } else if (op == "ReduceL2") {
        for (double x : v) r += x * x;
        r = std::sqrt(r);
    } else if (op == "ReduceLogSum") {
        for (double x : v) r += x;
        r = std::log(r);
    } else if (op == "ReduceLogSumExp") {
        double m = -inf;
        for (double x : v) m = std::max(m, x);
        for (double x : v) r += std::exp(x - m);
        r = v.empty() ? -inf : m + std::log(r);
    } else if (op == "ReduceSumSquare") {
        for (double x : v) r += x * x;
    }
    if (integer && (op == "ReduceL2" || op == "ReduceLogSum" || op == "ReduceLogSumExp")) r = std::trunc(r);
    return r;
}

/// Reduces over `axes` (normalized); the output lists kept coordinates in row-major order.
std::vector<double> reduceReference(const std::string& op, const Tensor& x, const std::vector<int64_t>& axes,
                                    bool keepDims, Shape& outShape) {
    const Shape& shape = x.shape();
    std::vector<bool> reduced(shape.size(), false);
    for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
    outShape.clear();
    Shape keptExtents;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (!reduced[d]) {
            outShape.push_back(shape[d]);
            keptExtents.push_back(shape[d]);
        } else if (keepDims) {
            outShape.push_back(1);
        }
    }
    const Shape strides = stridesOf(shape);
    const std::vector<double> v = x.toDoubleVector();
    std::vector<std::vector<double>> groups(static_cast<size_t>(shapeElementCount(keptExtents)));
    for (size_t i = 0; i < v.size(); ++i) {
        int64_t key = 0;
        for (size_t d = 0; d < shape.size(); ++d)
            if (!reduced[d]) key = key * shape[d] + (static_cast<int64_t>(i) / strides[d]) % shape[d];
        groups[static_cast<size_t>(key)].push_back(v[i]);
    }
    std::vector<double> out;
    for (const auto& g : groups) out.push_back(applyReduce(op, g, !isFloatingType(x.dtype())));
    return out;
}

Tol reduceTol(const std::string& op, DataType type, int64_t count) {
    Tol t = tolFor(type, count);
    if (op == "ReduceProd") return {t.rtol * static_cast<double>(count), t.atol};
    return t;
}

void checkReduce(const std::string& op, DataType type, const Shape& shape, const std::optional<Shape>& axes,
                 bool keepDims, uint32_t seed) {
    const bool integer = !isFloatingType(type);
    const bool positive = op == "ReduceLogSum" || integer;
    Tensor x = randomTensor(type, shape, positive ? 1.0 : -2.0, positive ? 4.0 : 2.0, seed);
    std::vector<int64_t> normalized;
    const int64_t rank = static_cast<int64_t>(shape.size());
    if (!axes || axes->empty())
        for (int64_t d = 0; d < rank; ++d) normalized.push_back(d);
    else
        for (int64_t a : *axes) normalized.push_back(a < 0 ? a + rank : a);
    Shape outShape;
    std::vector<double> ref = reduceReference(op, x, normalized, keepDims, outShape);
    std::vector<const Tensor*> inputs{&x};
    Tensor axesTensor;
    if (axes) {
        axesTensor = Tensor::fromInt64(*axes, {static_cast<int64_t>(axes->size())});
        inputs.push_back(&axesTensor);
    }
    Tensor out = runOne(op, inputs, attrsOf({{"keepdims", int64_t{keepDims}}}));
    int64_t count = 1;
    for (int64_t a : normalized) count *= shape[static_cast<size_t>(a)];
    expectClose(out, type, outShape, ref, reduceTol(op, type, count),
                op + " " + dataTypeName(type) + " " + shapeToString(shape, true) + " axes " +
                    (axes ? shapeToString(*axes, true) : "none") + " keepdims " + std::to_string(keepDims));
}

TEST(Reduce, EveryOpEveryAxisSetFloat) {
    const std::vector<std::pair<Shape, std::optional<Shape>>> cases = {
        {{3, 4, 5, 6}, std::nullopt},  {{3, 4, 5, 6}, Shape{0}},       {{3, 4, 5, 6}, Shape{1}},
        {{3, 4, 5, 6}, Shape{-1}},     {{3, 4, 5, 6}, Shape{1, 2}},    {{3, 4, 5, 6}, Shape{0, 2}},
        {{3, 4, 5, 6}, Shape{3, 0}},   {{3, 4, 5, 6}, Shape{-3, -1}},  {{3, 4, 5, 6}, Shape{0, 1, 2, 3}},
        {{2, 70, 3}, Shape{1}},        {{4, 1, 130}, Shape{0}},        {{4, 1, 130}, Shape{1}},
        {{128, 768}, Shape{-1}},       {{1, 1}, Shape{0}},             {{7}, Shape{0}},
    };
    uint32_t seed = 1;
    for (const char* op : kReduceOps)
        for (const auto& [shape, axes] : cases)
            for (bool keep : {true, false}) checkReduce(op, DataType::kFLOAT, shape, axes, keep, seed++);
}

TEST(Reduce, OtherTypes) {
    uint32_t seed = 1000;
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT32, DataType::kINT64,
                          DataType::kUINT32, DataType::kUINT64}) {
        for (const char* op : kReduceOps) {
            checkReduce(op, type, {2, 3, 4}, Shape{1}, true, seed++);
            checkReduce(op, type, {2, 3, 4}, Shape{0, 2}, false, seed++);
            checkReduce(op, type, {3, 5}, Shape{-1}, false, seed++);
        }
    }
    for (DataType type : {DataType::kINT8, DataType::kUINT8, DataType::kBOOL}) {
        for (const char* op : {"ReduceMax", "ReduceMin"}) {
            checkReduce(op, type, {2, 3, 4}, Shape{1}, true, seed++);
            checkReduce(op, type, {2, 3, 4}, Shape{0, 2}, false, seed++);
        }
    }
}

TEST(Reduce, EmptyAxesAndNoop) {
    Tensor x = randomTensor(DataType::kFLOAT, {3, 4}, -2.0, 2.0, 5);
    Tensor empty = Tensor::fromInt64({}, {0});
    const std::vector<double> values = x.toDoubleVector();
    // noop_with_empty_axes: identity, with the axes omitted or empty.
    for (bool omit : {true, false}) {
        std::vector<const Tensor*> inputs{&x};
        if (!omit) inputs.push_back(&empty);
        Tensor out = runOne("ReduceSum", inputs, attrsOf({{"noop_with_empty_axes", int64_t{1}}}));
        expectClose(out, DataType::kFLOAT, {3, 4}, values, {0, 0}, "noop");
    }
    // Without it, an empty list reduces every axis.
    double sum = 0;
    for (double v : values) sum += v;
    Tensor all = runOne("ReduceSum", {&x, &empty}, attrsOf({{"keepdims", int64_t{0}}}));
    expectClose(all, DataType::kFLOAT, {}, {sum}, tolFor(DataType::kFLOAT, 12), "empty axes");
    // A scalar input reduces to itself (L2: its magnitude).
    Tensor scalar = randomTensor(DataType::kFLOAT, {}, -3.0, -1.0, 6);
    Tensor l2 = runOne("ReduceL2", {&scalar});
    expectClose(l2, DataType::kFLOAT, {}, {std::fabs(scalar.elementAsDouble(0))}, tolFor(DataType::kFLOAT), "scalar");
}

TEST(Reduce, EmptyReductionsGiveIdentityElements) {
    Tensor x = Tensor::allocate(DataType::kFLOAT, {3, 0, 2});
    Tensor axes = Tensor::fromInt64({1}, {1});
    const double inf = std::numeric_limits<double>::infinity();
    const std::map<std::string, double> expected = {{"ReduceSum", 0.0},       {"ReduceProd", 1.0},
                                                    {"ReduceMax", -inf},      {"ReduceMin", inf},
                                                    {"ReduceL1", 0.0},        {"ReduceL2", 0.0},
                                                    {"ReduceSumSquare", 0.0}, {"ReduceLogSum", -inf},
                                                    {"ReduceLogSumExp", -inf}};
    for (const auto& [op, value] : expected) {
        Tensor out = runOne(op, {&x, &axes});
        expectClose(out, DataType::kFLOAT, {3, 1, 2}, std::vector<double>(6, value), {0, 0}, op + " over nothing");
    }
    Tensor mean = runOne("ReduceMean", {&x, &axes});
    ASSERT_EQ(mean.elementCount(), 6);
    EXPECT_TRUE(std::isnan(mean.elementAsDouble(0)));
    // Reducing the non-empty axes of an empty tensor gives an empty result.
    Tensor other = Tensor::fromInt64({2}, {1});
    Tensor out = runOne("ReduceSum", {&x, &other});
    EXPECT_EQ(out.shape(), (Shape{3, 0, 1}));
}

/// The builder reshapes kernels on views without data; the axes then come from the node's
/// constant, or (for computed axes) from the run's data.
TEST(Reduce, AxesFromTheConstantOrFromTheRun) {
    Tensor x = randomTensor(DataType::kFLOAT, {3, 4, 5}, -2.0, 2.0, 31);
    Tensor axes = Tensor::fromInt64({0, 2}, {2});
    Shape outShape;
    const std::vector<double> ref = reduceReference("ReduceSum", x, {0, 2}, true, outShape);
    for (bool constantAxes : {true, false}) {
        Graph graph;
        Value* in = graph.addInput("x", DataType::kFLOAT, fromConcrete(x.shape()));
        Value* axesValue = constantAxes ? graph.addConstant("axes", axes) : graph.addInput("axes", DataType::kINT64, {2});
        Node* node = graph.addNode("ReduceSum", "reduce", {in, axesValue}, {"y"}, 1);
        auto kernel = CpuKernelRegistry::global().find(*node)->create(*node);
        ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
        Tensor y = Tensor::allocate(DataType::kFLOAT, outShape);
        std::vector<TensorView> inViews{{DataType::kFLOAT, x.shape(), nullptr}, {DataType::kINT64, {2}, nullptr}};
        std::vector<TensorView> outViews{{DataType::kFLOAT, outShape, nullptr}};
        ASSERT_TRUE((*kernel)->reshape(inViews, outViews).isOk());
        inViews = {viewOf(x), viewOf(axes)};
        outViews = {viewOf(y)};
        KernelIO io{inViews.data(), inViews.size(), outViews.data(), outViews.size(), nullptr, 0, nullptr};
        Status status = (*kernel)->run(io);
        ASSERT_TRUE(status.isOk()) << status.message();
        expectClose(y, DataType::kFLOAT, outShape, ref, tolFor(DataType::kFLOAT, 15),
                    constantAxes ? "constant axes" : "axes at run time");
    }
}

std::vector<double> argReference(const Tensor& x, int64_t axis, bool isMax, bool last, bool keepDims, Shape& outShape) {
    const Shape& shape = x.shape();
    const size_t a = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis);
    outShape.clear();
    for (size_t d = 0; d < shape.size(); ++d) {
        if (d != a) outShape.push_back(shape[d]);
        else if (keepDims) outShape.push_back(1);
    }
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < a; ++d) outer *= shape[d];
    for (size_t d = a + 1; d < shape.size(); ++d) inner *= shape[d];
    const std::vector<double> v = x.toDoubleVector();
    std::vector<double> out;
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            int64_t best = 0;
            for (int64_t k = 1; k < shape[a]; ++k) {
                const double cand = v[static_cast<size_t>((o * shape[a] + k) * inner + i)];
                const double cur = v[static_cast<size_t>((o * shape[a] + best) * inner + i)];
                const bool better = isMax ? (last ? cand >= cur : cand > cur) : (last ? cand <= cur : cand < cur);
                if (better) best = k;
            }
            out.push_back(static_cast<double>(best));
        }
    return out;
}

TEST(ArgMaxArgMin, AxesTiesAndTypes) {
    uint32_t seed = 2000;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT8,
                          DataType::kUINT8, DataType::kINT16, DataType::kINT32, DataType::kINT64, DataType::kUINT64}) {
        for (int64_t axis = -3; axis < 3; ++axis) {
            // Few distinct values, so ties exercise select_last_index.
            Tensor x = randomTensor(type, {3, 5, 4}, 0.0, 4.0, seed++);
            for (const char* op : {"ArgMax", "ArgMin"}) {
                for (bool last : {false, true}) {
                    for (bool keep : {true, false}) {
                        Shape outShape;
                        std::vector<double> ref = argReference(x, axis, std::string(op) == "ArgMax", last, keep, outShape);
                        Tensor out = runOne(op, {&x}, attrsOf({{"axis", axis}, {"keepdims", int64_t{keep}},
                                                                {"select_last_index", int64_t{last}}}));
                        expectClose(out, DataType::kINT64, outShape, ref, {0, 0},
                                    std::string(op) + " " + dataTypeName(type) + " axis " + std::to_string(axis) +
                                        (last ? " last" : " first"));
                    }
                }
            }
        }
    }
}

std::string inferReduce(const std::string& op, SymShape x, std::optional<InputSpec> axes, const AttributeMap& attrs) {
    std::vector<InputSpec> inputs{InputSpec::of(DataType::kFLOAT, std::move(x))};
    if (axes) inputs.push_back(*axes);
    return inferredShape(inferOne(op, inputs, 1, attrs));
}

TEST(ReductionInference, ConstantAndUnknownAxes) {
    const Dim batch = Dim::named("batch"), seq = Dim::named("seq");
    auto constantAxes = [](std::vector<int64_t> axes) {
        return InputSpec::constant(Tensor::fromInt64(axes, {static_cast<int64_t>(axes.size())}));
    };
    const AttributeMap drop = attrsOf({{"keepdims", int64_t{0}}});
    EXPECT_EQ(inferReduce("ReduceMean", {batch, seq, 768}, constantAxes({-1}), {}), "(batch, seq, 1)");
    EXPECT_EQ(inferReduce("ReduceMean", {batch, seq, 768}, constantAxes({-1}), drop), "(batch, seq)");
    EXPECT_EQ(inferReduce("ReduceSum", {batch, 3, 4}, std::nullopt, {}), "(1, 1, 1)");
    EXPECT_EQ(inferReduce("ReduceSum", {batch, 3, 4}, std::nullopt, drop), "()");
    EXPECT_EQ(inferReduce("ReduceSum", {batch, 3, 4}, constantAxes({}), attrsOf({{"noop_with_empty_axes", int64_t{1}}})),
              "(batch, 3, 4)");
    EXPECT_EQ(inferReduce("ReduceMax", {batch, 3, 4}, constantAxes({0, 2}), drop), "(3)");
    // Axes computed at run time: with keepdims the rank stays; without, it drops by the axes' count
    // (their shape) and the extents wait for the run.
    const InputSpec dynamicAxes = InputSpec::of(DataType::kINT64, {1});
    EXPECT_EQ(inferReduce("ReduceSum", {batch, 1, 4}, dynamicAxes, {}), "(-1, 1, -1)");
    EXPECT_EQ(inferReduce("ReduceSum", {batch, 1, 4}, dynamicAxes, drop), "(-1, -1)");
    EXPECT_EQ(inferReduce("ReduceSum", {batch, 1, 4}, InputSpec::of(DataType::kINT64, {0}), drop), "()");
    const std::string error = inferReduce("ReduceSum", {batch, 1, 4}, InputSpec::of(DataType::kINT64, {5}), drop);
    EXPECT_NE(error.find("more axes than dimensions"), std::string::npos) << error;

    auto expectError = [](const std::string& result, const std::string& fragment) {
        EXPECT_EQ(result.rfind("error: ", 0), 0u) << result;
        EXPECT_NE(result.find(fragment), std::string::npos) << result;
    };
    expectError(inferReduce("ReduceSum", {2, 3}, constantAxes({2}), {}), "out of range");
    expectError(inferReduce("ReduceSum", {2, 3}, constantAxes({1, -1}), {}), "repeat");
    expectError(inferReduce("ReduceSum", {2, 3}, std::nullopt, attrsOf({{"axes", Shape{0}}})), "input 1");
    expectError(inferReduce("ReduceSum", {2, 3}, InputSpec::of(DataType::kINT32, {1}), {}), "int64");
    auto boolSum = inferOne("ReduceSum", {InputSpec::of(DataType::kBOOL, {2, 3})}, 1);
    EXPECT_FALSE(boolSum.status.isOk());
    auto boolMax = inferOne("ReduceMax", {InputSpec::of(DataType::kBOOL, {2, 3})}, 1);
    EXPECT_TRUE(boolMax.status.isOk()) << boolMax.status.message();

    auto arg = inferOne("ArgMax", {InputSpec::of(DataType::kFLOAT, {batch, seq, 10})}, 1,
                        attrsOf({{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}}));
    ASSERT_TRUE(arg.status.isOk()) << arg.status.message();
    EXPECT_EQ(arg.outputs[0].dtype, DataType::kINT64);
    EXPECT_EQ(symShapeToString(arg.outputs[0].shape), "(batch, seq)");
    expectError(inferReduce("ArgMin", {2, 3}, std::nullopt, attrsOf({{"axis", int64_t{2}}})), "out of range");
    expectError(inferReduce("ArgMin", {2, 0}, std::nullopt, attrsOf({{"axis", int64_t{1}}})), "empty axis");
}

}  // namespace
}  // namespace kiln::test
