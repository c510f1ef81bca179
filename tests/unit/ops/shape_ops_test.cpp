// Shape family: inference on static and symbolic shapes, and the CPU kernels against references.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

std::vector<int64_t> valueOf(const ValueInfo& info) {
    EXPECT_TRUE(info.value.has_value());
    return info.value ? info.value->toInt64Vector() : std::vector<int64_t>{};
}

// ---- Shape / Size ----

TEST(ShapeOp, StaticShapeSetsValueWithStartEnd) {
    SymShape in{2, 3, 4, 5};
    struct Case {
        std::optional<int64_t> start, end;
        std::vector<int64_t> expected;
    };
    std::vector<Case> cases = {{{}, {}, {2, 3, 4, 5}}, {1, {}, {3, 4, 5}}, {-1, {}, {5}}, {{}, -1, {2, 3, 4}},
                               {1, 3, {3, 4}},         {-10, 2, {2, 3}},   {3, 1, {}},    {2, 100, {4, 5}}};
    for (const Case& c : cases) {
        AttributeMap attrs;
        if (c.start) attrs.set("start", *c.start);
        if (c.end) attrs.set("end", *c.end);
        InferResult r = inferOp("Shape", {symbolic(DataType::kFLOAT, in)}, attrs);
        ASSERT_TRUE(r.status) << r.status.message();
        EXPECT_EQ(r.outputs[0].dtype, DataType::kINT64);
        EXPECT_EQ(shapeString(r.outputs[0]), "(" + std::to_string(c.expected.size()) + ")");
        EXPECT_EQ(valueOf(r.outputs[0]), c.expected);

        // The kernel agrees with inference.
        Tensor x = randomData(DataType::kFLOAT, toConcrete(in), 1);
        SingleNodeRun run = runOp("Shape", {&x}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        EXPECT_EQ(run.outputs[0].toInt64Vector(), c.expected);
    }
}

TEST(ShapeOp, SymbolicDimsOnlyGiveAValueWhenTheSliceIsKnown) {
    SymShape in{Dim::named("batch"), 3, 4};
    InferResult all = inferOp("Shape", {symbolic(DataType::kFLOAT, in)});
    ASSERT_TRUE(all.status);
    EXPECT_EQ(shapeString(all.outputs[0]), "(3)");
    EXPECT_FALSE(all.outputs[0].value.has_value());

    InferResult tail = inferOp("Shape", {symbolic(DataType::kFLOAT, in)}, attrsOf({{"start", int64_t{1}}}));
    ASSERT_TRUE(tail.status);
    EXPECT_EQ(valueOf(tail.outputs[0]), (std::vector<int64_t>{3, 4}));
}

TEST(ShapeOp, ScalarAndEmptyInputs) {
    Tensor scalar = Tensor::scalarFloat(2.5f);
    SingleNodeRun run = runOp("Shape", {&scalar});
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].shape(), Shape{0});
    Tensor empty = Tensor::allocate(DataType::kHALF, {3, 0, 2});
    run = runOp("Shape", {&empty});
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].toInt64Vector(), (std::vector<int64_t>{3, 0, 2}));
}

TEST(SizeOp, ValueWhenStaticAndKernel) {
    InferResult r = inferOp("Size", {symbolic(DataType::kINT8, {2, 3, 7})});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "()");
    EXPECT_EQ(valueOf(r.outputs[0]), (std::vector<int64_t>{42}));
    r = inferOp("Size", {symbolic(DataType::kINT8, {Dim::named("n"), 3})});
    ASSERT_TRUE(r.status);
    EXPECT_FALSE(r.outputs[0].value.has_value());
    Tensor x = randomData(DataType::kBOOL, {5, 1, 3}, 2);
    SingleNodeRun run = runOp("Size", {&x});
    ASSERT_TRUE(run.status);
    EXPECT_EQ(run.outputs[0].toInt64Vector(), (std::vector<int64_t>{15}));
}

// ---- Reshape ----

InferResult inferReshape(SymShape in, std::vector<int64_t> target, int64_t allowZero = 0) {
    return inferOp("Reshape", {symbolic(DataType::kFLOAT, std::move(in)), constant(int64Vector(target))},
                   attrsOf({{"allowzero", allowZero}}));
}

TEST(ReshapeOp, StaticZerosAndWildcard) {
    InferResult r = inferReshape({2, 3, 4}, {0, -1});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(2, 12)");
    r = inferReshape({2, 3, 4}, {-1});
    EXPECT_EQ(shapeString(r.outputs[0]), "(24)");
    r = inferReshape({2, 3, 4}, {4, 0, 2});
    EXPECT_EQ(shapeString(r.outputs[0]), "(4, 3, 2)");
    r = inferReshape({1}, {});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "()");
}

TEST(ReshapeOp, AllowZeroKeepsLiteralZero) {
    InferResult r = inferReshape({0, 3}, {3, 0}, 1);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(3, 0)");
    EXPECT_FALSE(inferReshape({0, 3}, {0, -1}, 1).status);  // 0 and -1 together are invalid with allowzero
}

TEST(ReshapeOp, SymbolicDimsAreKeptWhereTheSpecAllows) {
    SymShape bsh{Dim::named("batch"), Dim::named("seq"), 768};
    InferResult r = inferReshape(bsh, {0, 0, 12, 64});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(batch, seq, 12, 64)");
    // The -1 cancels the copied symbol: (batch*seq*768) / (batch*seq*12) = 64.
    r = inferReshape(bsh, {0, 0, 12, -1});
    EXPECT_EQ(shapeString(r.outputs[0]), "(batch, seq, 12, 64)");
    // The -1 becomes the one symbol that is left.
    r = inferReshape({Dim::named("batch"), 3, 4}, {12, -1});
    EXPECT_EQ(shapeString(r.outputs[0]), "(12, batch)");
    // batch*seq is no single dim: unknown, but the rank is known.
    r = inferReshape(bsh, {-1, 768});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, 768)");
    // An unnamed unknown dim cannot cancel.
    r = inferReshape({Dim::unknown(), 4}, {0, -1});
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, -1)");
}

TEST(ReshapeOp, UnknownShapeValueKeepsTheRank) {
    InferResult r = inferOp("Reshape", {symbolic(DataType::kFLOAT, {2, 6}), symbolic(DataType::kINT64, {3})});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, -1, -1)");
    r = inferOp("Reshape", {symbolic(DataType::kFLOAT, {2, 6}), symbolic(DataType::kINT64, {Dim::named("n")})});
    EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
}

TEST(ReshapeOp, RejectsBadShapes) {
    EXPECT_FALSE(inferReshape({2, 3}, {-1, -1}).status);
    EXPECT_FALSE(inferReshape({2, 3}, {4, -1}).status);  // 6 not divisible by 4
    EXPECT_FALSE(inferReshape({2, 3}, {5}).status);
    EXPECT_FALSE(inferReshape({2, 3}, {-2, 3}).status);
    EXPECT_FALSE(inferReshape({2, 3}, {1, 1, 0}).status);  // 0 copies a dim the input lacks
    InferResult r = inferOp("Reshape", {symbolic(DataType::kFLOAT, {2, 3}), constant(int32Vector({6}))});
    EXPECT_FALSE(r.status);  // shape must be int64
}

TEST(ReshapeOp, KernelCopiesEveryType) {
    for (DataType type : kAllDataTypes) {
        Tensor x = randomData(type, {2, 3, 4}, 3);
        Tensor shape = int64Vector({4, 0, -1});
        SingleNodeRun run = runOp("Reshape", {&x, &shape});
        ASSERT_TRUE(run.status) << dataTypeName(type) << ": " << run.status.message();
        EXPECT_EQ(run.outputs[0].shape(), (Shape{4, 3, 2}));
        expectExact(run.outputs[0], x.toDoubleVector(), dataTypeName(type));
    }
    Tensor empty = Tensor::allocate(DataType::kFLOAT, {0, 3});
    Tensor shape = int64Vector({3, 0});
    SingleNodeRun run = runSingleNode("Reshape", {&empty, &shape}, 1, attrsOf({{"allowzero", int64_t{1}}}));
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].shape(), (Shape{3, 0}));
}

// ---- Flatten / Squeeze / Unsqueeze ----

TEST(FlattenOp, AxesAndSymbols) {
    struct Case {
        int64_t axis;
        std::string expected;
    };
    for (const Case& c : std::vector<Case>{{0, "(1, -1)"}, {1, "(batch, 12)"}, {-1, "(-1, 4)"}, {3, "(-1, 1)"}}) {
        InferResult r =
            inferOp("Flatten", {symbolic(DataType::kFLOAT, {Dim::named("batch"), 3, 4})}, attrsOf({{"axis", c.axis}}));
        ASSERT_TRUE(r.status) << r.status.message();
        EXPECT_EQ(shapeString(r.outputs[0]), c.expected) << "axis " << c.axis;
    }
    InferResult ones =
        inferOp("Flatten", {symbolic(DataType::kFLOAT, {Dim::named("batch"), 1, 1})}, attrsOf({{"axis", int64_t{3}}}));
    EXPECT_EQ(shapeString(ones.outputs[0]), "(batch, 1)");
    EXPECT_FALSE(inferOp("Flatten", {symbolic(DataType::kFLOAT, {2, 3})}, attrsOf({{"axis", int64_t{3}}})).status);
    Tensor x = randomData(DataType::kINT16, {2, 3, 5}, 4);
    SingleNodeRun run = runOp("Flatten", {&x}, attrsOf({{"axis", int64_t{2}}}));
    ASSERT_TRUE(run.status);
    EXPECT_EQ(run.outputs[0].shape(), (Shape{6, 5}));
    expectExact(run.outputs[0], x.toDoubleVector());
}

TEST(SqueezeOp, WithAndWithoutAxes) {
    InferResult r =
        inferOp("Squeeze", {symbolic(DataType::kFLOAT, {1, Dim::named("b"), 1, 3}), constant(int64Vector({-2, 0}))});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 3)");
    r = inferOp("Squeeze", {symbolic(DataType::kFLOAT, {1, 4, 1, 3})});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(4, 3)");
    // Without axes a symbolic dim makes the output rank unknown.
    r = inferOp("Squeeze", {symbolic(DataType::kFLOAT, {1, Dim::named("b"), 3})});
    EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
    EXPECT_FALSE(inferOp("Squeeze", {symbolic(DataType::kFLOAT, {2, 3}), constant(int64Vector({0}))}).status);
    EXPECT_FALSE(inferOp("Squeeze", {symbolic(DataType::kFLOAT, {1, 3}), constant(int64Vector({0, 0}))}).status);
    // Axes computed at run time: their count gives the rank, the run gives the extents.
    r = inferOp("Squeeze", {symbolic(DataType::kFLOAT, {1, 3}), symbolic(DataType::kINT64, {1})});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.outputs[0].shape.size(), 1u);
    r = inferOp("Unsqueeze", {symbolic(DataType::kFLOAT, {4, 3}), symbolic(DataType::kINT64, {2})});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.outputs[0].shape.size(), 4u);
    EXPECT_EQ(inferOp("Squeeze", {symbolic(DataType::kFLOAT, {1, 3}), symbolic(DataType::kINT64, {Dim::named("n")})})
                  .status.code(),
              StatusCode::kUnsupported);

    Tensor x = randomData(DataType::kUINT8, {1, 3, 1}, 5);
    Tensor axes = int64Vector({2});
    SingleNodeRun run = runOp("Squeeze", {&x, &axes});
    ASSERT_TRUE(run.status);
    EXPECT_EQ(run.outputs[0].shape(), (Shape{1, 3}));
    expectExact(run.outputs[0], x.toDoubleVector());
}

TEST(UnsqueezeOp, AxesInAnyOrderAndNegative) {
    InferResult r =
        inferOp("Unsqueeze", {symbolic(DataType::kFLOAT, {3, Dim::named("n")}), constant(int64Vector({-1, 0}))});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(shapeString(r.outputs[0]), "(1, 3, n, 1)");
    r = inferOp("Unsqueeze", {symbolic(DataType::kFLOAT, {}), constant(int64Vector({0}))});
    EXPECT_EQ(shapeString(r.outputs[0]), "(1)");
    EXPECT_FALSE(inferOp("Unsqueeze", {symbolic(DataType::kFLOAT, {3}), constant(int64Vector({1, 1}))}).status);
    EXPECT_FALSE(inferOp("Unsqueeze", {symbolic(DataType::kFLOAT, {3}), constant(int64Vector({3}))}).status);

    Tensor x = randomData(DataType::kBF16, {2, 3}, 6);
    Tensor axes = int64Vector({1, 3});
    SingleNodeRun run = runOp("Unsqueeze", {&x, &axes});
    ASSERT_TRUE(run.status);
    EXPECT_EQ(run.outputs[0].shape(), (Shape{2, 1, 3, 1}));
    expectExact(run.outputs[0], x.toDoubleVector());
}

// ---- Expand ----

std::vector<double> expandReference(const Tensor& x, const Shape& out) {
    std::vector<double> in = x.toDoubleVector();
    std::vector<double> ref(static_cast<size_t>(shapeElementCount(out)));
    const Shape& s = x.shape();
    for (size_t i = 0; i < ref.size(); ++i) {
        std::vector<int64_t> idx = unravel(static_cast<int64_t>(i), out);
        std::vector<int64_t> src(s.size());
        for (size_t d = 0; d < s.size(); ++d) src[d] = s[d] == 1 ? 0 : idx[out.size() - s.size() + d];
        ref[i] = in[static_cast<size_t>(ravel(src, s))];
    }
    return ref;
}

TEST(ExpandOp, KernelMatchesBroadcastReferenceForEveryType) {
    struct Case {
        Shape in;
        std::vector<int64_t> shape;
        Shape out;
    };
    std::vector<Case> cases = {{{1, 5, 1, 1}, {1, 5, 5, 5}, {1, 5, 5, 5}},  // seed 001's Expand
                               {{3, 1}, {2, 1, 6}, {2, 3, 6}},
                               {{4}, {3, 1}, {3, 4}},
                               {{2, 3}, {1}, {2, 3}},  // shape smaller than the input
                               {{}, {2, 2}, {2, 2}},
                               {{1, 3}, {0, 3}, {0, 3}},
                               {{1, 1, 7}, {64, 33, 1}, {64, 33, 7}}};
    for (DataType type : kAllDataTypes) {
        for (const Case& c : cases) {
            Tensor x = randomData(type, c.in, 7);
            Tensor shape = int64Vector(c.shape);
            SingleNodeRun run = runOp("Expand", {&x, &shape});
            ASSERT_TRUE(run.status) << run.status.message();
            ASSERT_EQ(run.outputs[0].shape(), c.out);
            expectExact(run.outputs[0], expandReference(x, c.out), dataTypeName(type));
        }
    }
}

TEST(ExpandOp, SymbolicInference) {
    InferResult r =
        inferOp("Expand", {symbolic(DataType::kFLOAT, {Dim::named("b"), 1, 4}), constant(int64Vector({1, 3, 1}))});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(b, 3, 4)");
    // Unknown shape values: rank is max(input rank, shape length); known non-1 input dims survive.
    r = inferOp("Expand", {symbolic(DataType::kFLOAT, {1, 4}), symbolic(DataType::kINT64, {3})});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, -1, 4)");
    EXPECT_FALSE(inferOp("Expand", {symbolic(DataType::kFLOAT, {3, 4}), constant(int64Vector({2, 4}))}).status);
}

// ---- ConstantOfShape / Range / EyeLike ----

TEST(ConstantOfShapeOp, ValueAttributeAndDefault) {
    Tensor shape = int64Vector({2, 3});
    SingleNodeRun run = runOp("ConstantOfShape", {&shape});
    ASSERT_TRUE(run.status);
    EXPECT_EQ(run.outputs[0].dtype(), DataType::kFLOAT);
    expectExact(run.outputs[0], std::vector<double>(6, 0.0));
    for (DataType type : kAllDataTypes) {
        Tensor value = randomData(type, {1}, 8);
        if (value.elementAsDouble(0) == 0) value = randomData(type, {1}, 9);
        SingleNodeRun filled = runOp("ConstantOfShape", {&shape}, attrsOf({{"value", value}}));
        ASSERT_TRUE(filled.status) << filled.status.message();
        EXPECT_EQ(filled.outputs[0].dtype(), type);
        expectExact(filled.outputs[0], std::vector<double>(6, value.elementAsDouble(0)), dataTypeName(type));
    }
    InferResult r = inferOp("ConstantOfShape", {symbolic(DataType::kINT64, {3})});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1, -1, -1)");
    EXPECT_FALSE(inferOp("ConstantOfShape", {constant(int64Vector({2, -1}))}).status);
}

TEST(RangeOp, CountsAndValues) {
    struct Case {
        DataType type;
        double start, limit, delta;
    };
    std::vector<Case> cases = {
        {DataType::kINT64, 3, 9, 3},        {DataType::kINT32, 10, 4, -2},    {DataType::kINT16, 0, 7, 2},
        {DataType::kFLOAT, 0.5, 2.0, 0.25}, {DataType::kDOUBLE, 1, -1, -0.3}, {DataType::kHALF, 1, 5, 1.5},
        {DataType::kBF16, -2, 2, 0.5},      {DataType::kINT64, 5, 5, 1},      {DataType::kINT32, 5, 1, 1}};
    for (const Case& c : cases) {
        auto scalar = [&](double v) {
            Tensor t = Tensor::allocate(c.type, {});
            dispatchDataType(c.type, [&](auto tag) {
                using T = decltype(tag);
                if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                    *t.data<T>() = T(static_cast<float>(v));
                else
                    *t.data<T>() = static_cast<T>(v);
            });
            return t;
        };
        Tensor s = scalar(c.start), l = scalar(c.limit), d = scalar(c.delta);
        SingleNodeRun run = runOp("Range", {&s, &l, &d});
        ASSERT_TRUE(run.status) << run.status.message();
        int64_t count = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((c.limit - c.start) / c.delta)));
        std::vector<double> ref;
        for (int64_t i = 0; i < count; ++i) ref.push_back(c.start + static_cast<double>(i) * c.delta);
        double tol = c.type == DataType::kHALF || c.type == DataType::kBF16 ? 1e-2 : 1e-6;
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, tol, tol), "") << dataTypeName(c.type);
    }
    InferResult r =
        inferOp("Range", {symbolic(DataType::kINT64, {}), constant(int64Scalar(4)), constant(int64Scalar(1))});
    ASSERT_TRUE(r.status);
    EXPECT_EQ(shapeString(r.outputs[0]), "(-1)");
    EXPECT_FALSE(
        inferOp("Range", {constant(int64Scalar(0)), constant(int64Scalar(4)), constant(int64Scalar(0))}).status);
}

TEST(EyeLikeOp, DiagonalsAndDtype) {
    for (int64_t k : {-4, -1, 0, 2, 7}) {
        Tensor x = randomData(DataType::kINT32, {3, 5}, 10);
        SingleNodeRun run = runOp("EyeLike", {&x}, attrsOf({{"k", k}, {"dtype", int64_t{10}}}));  // float16
        ASSERT_TRUE(run.status) << run.status.message();
        EXPECT_EQ(run.outputs[0].dtype(), DataType::kHALF);
        std::vector<double> ref(15, 0.0);
        for (int64_t i = 0; i < 3; ++i)
            if (i + k >= 0 && i + k < 5) ref[static_cast<size_t>(i * 5 + i + k)] = 1.0;
        expectExact(run.outputs[0], ref, "k=" + std::to_string(k));
    }
    Tensor b = randomData(DataType::kBOOL, {2, 2}, 11);
    SingleNodeRun run = runOp("EyeLike", {&b});
    ASSERT_TRUE(run.status);
    expectExact(run.outputs[0], {1, 0, 0, 1});
    EXPECT_FALSE(inferOp("EyeLike", {symbolic(DataType::kFLOAT, {2, 2, 2})}).status);
    EXPECT_FALSE(
        inferOp("EyeLike", {symbolic(DataType::kFLOAT, {2, 2})}, attrsOf({{"dtype", int64_t{8}}})).status);  // string
}

}  // namespace
}  // namespace kiln::test
