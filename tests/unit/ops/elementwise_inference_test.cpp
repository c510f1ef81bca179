// Shape and type inference of the elementwise and activation families: symbolic broadcasting,
// output types, and errors for malformed nodes.

#include <gtest/gtest.h>

#include <optional>
#include <utility>

#include "ir/graph.h"
#include "ir/onnx_types.h"
#include "ir/shape_inference.h"

namespace kiln {
namespace {

struct InputSpec {
    DataType dtype;
    SymShape shape;
};

struct Inferred {
    Status status;
    DataType dtype{DataType::kFLOAT};
    SymShape shape;
};

/// Infers one node; std::nullopt in `inputs` is an omitted optional input.
Inferred inferOne(const std::string& op, const std::vector<std::optional<InputSpec>>& inputs,
                  const AttributeMap& attrs = {}) {
    Graph graph;
    std::vector<Value*> values;
    for (size_t i = 0; i < inputs.size(); ++i)
        values.push_back(inputs[i] ? graph.addInput("in" + std::to_string(i), inputs[i]->dtype, inputs[i]->shape)
                                   : nullptr);
    Node* node = graph.addNode(op, "n", values, {}, 1);
    node->attrs = attrs;
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    Inferred result;
    result.status = inferNode(*node, infos, ShapeInferenceOptions{});
    if (result.status) {
        const ValueInfo& out = infos[static_cast<size_t>(node->outputs[0]->id)];
        result.dtype = out.dtype;
        result.shape = out.shape;
    }
    return result;
}

SymShape sym(std::initializer_list<Dim> dims) {
    return SymShape(dims);
}
Dim named(const std::string& s) {
    return Dim::named(s);
}

TEST(ElementwiseInference, BroadcastKeepsSymbols) {
    auto r = inferOne(
        "Add", {InputSpec{DataType::kFLOAT, sym({named("batch"), 1, 4})}, InputSpec{DataType::kFLOAT, sym({3, 1})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kFLOAT);
    EXPECT_EQ(symShapeToString(r.shape), "(batch, 3, 4)");

    // A symbol against 1 stays the symbol; two different symbols give an unknown extent.
    r = inferOne("Mul", {InputSpec{DataType::kINT64, sym({named("seq"), named("a")})},
                         InputSpec{DataType::kINT64, sym({1, named("b")})}});
    ASSERT_TRUE(r.status) << r.status.message();
    ASSERT_EQ(r.shape.size(), 2u);
    EXPECT_EQ(r.shape[0].symbol, "seq");
    EXPECT_FALSE(r.shape[1].isKnown());
    EXPECT_TRUE(r.shape[1].symbol.empty());
}

TEST(ElementwiseInference, RankZeroAndEmpty) {
    auto r = inferOne("Sub", {InputSpec{DataType::kDOUBLE, {}}, InputSpec{DataType::kDOUBLE, {}}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_TRUE(r.shape.empty());
    r = inferOne("Div", {InputSpec{DataType::kFLOAT, sym({0, 3})}, InputSpec{DataType::kFLOAT, sym({3})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.shape), "(0, 3)");
}

TEST(ElementwiseInference, BinaryErrors) {
    auto r = inferOne("Add", {InputSpec{DataType::kFLOAT, sym({2, 3})}, InputSpec{DataType::kFLOAT, sym({4})}});
    EXPECT_FALSE(r.status);
    EXPECT_NE(r.status.message().find("broadcast"), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("'n'"), std::string::npos) << "the error names the node";

    r = inferOne("Add", {InputSpec{DataType::kFLOAT, sym({2})}, InputSpec{DataType::kHALF, sym({2})}});
    EXPECT_FALSE(r.status);
    r = inferOne("Add", {InputSpec{DataType::kBOOL, sym({2})}, InputSpec{DataType::kBOOL, sym({2})}});
    EXPECT_FALSE(r.status) << "Add is not defined on bool";
    r = inferOne("And", {InputSpec{DataType::kINT32, sym({2})}, InputSpec{DataType::kINT32, sym({2})}});
    EXPECT_FALSE(r.status) << "And is defined on bool only";
    r = inferOne("Add", {InputSpec{DataType::kFLOAT, sym({2})}, std::nullopt});
    EXPECT_FALSE(r.status) << "a missing required input";
    r = inferOne("Add", {InputSpec{DataType::kFLOAT, sym({2})}});
    EXPECT_FALSE(r.status) << "too few inputs";
}

TEST(ElementwiseInference, ComparisonsAndPredicatesGiveBool) {
    for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
        auto r =
            inferOne(op, {InputSpec{DataType::kINT32, sym({named("n"), 1})}, InputSpec{DataType::kINT32, sym({5})}});
        ASSERT_TRUE(r.status) << op << ": " << r.status.message();
        EXPECT_EQ(r.dtype, DataType::kBOOL) << op;
        EXPECT_EQ(symShapeToString(r.shape), "(n, 5)") << op;
    }
    auto r = inferOne("Equal", {InputSpec{DataType::kBOOL, sym({2})}, InputSpec{DataType::kBOOL, sym({2})}});
    EXPECT_TRUE(r.status) << "Equal accepts bool";
    r = inferOne("Less", {InputSpec{DataType::kBOOL, sym({2})}, InputSpec{DataType::kBOOL, sym({2})}});
    EXPECT_FALSE(r.status) << "Less does not accept bool";
    for (const char* op : {"IsNaN", "IsInf"}) {
        r = inferOne(op, {InputSpec{DataType::kHALF, sym({named("b"), 7})}});
        ASSERT_TRUE(r.status) << r.status.message();
        EXPECT_EQ(r.dtype, DataType::kBOOL);
        EXPECT_EQ(symShapeToString(r.shape), "(b, 7)");
        EXPECT_FALSE(inferOne(op, {InputSpec{DataType::kINT32, sym({2})}}).status) << op << " on int32";
    }
}

TEST(ElementwiseInference, VariadicOps) {
    auto r = inferOne("Max", {InputSpec{DataType::kINT16, sym({3, 1})}, InputSpec{DataType::kINT16, sym({4})},
                              InputSpec{DataType::kINT16, sym({2, 1, 1})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.shape), "(2, 3, 4)");
    r = inferOne("Sum", {InputSpec{DataType::kFLOAT, sym({named("b"), 4})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.shape), "(b, 4)");
    EXPECT_FALSE(inferOne("Mean", {InputSpec{DataType::kINT32, sym({2})}}).status) << "Mean is float-only";
    EXPECT_FALSE(
        inferOne("Min", {InputSpec{DataType::kFLOAT, sym({2})}, InputSpec{DataType::kDOUBLE, sym({2})}}).status);
    EXPECT_FALSE(
        inferOne("Min", {InputSpec{DataType::kFLOAT, sym({2})}, InputSpec{DataType::kFLOAT, sym({3})}}).status);
    EXPECT_FALSE(inferOne("Sum", {}).status) << "no inputs";
}

TEST(ElementwiseInference, PowTypes) {
    auto r = inferOne("Pow", {InputSpec{DataType::kINT64, sym({3})}, InputSpec{DataType::kFLOAT, {}}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kINT64) << "Pow's output has the base's type";
    r = inferOne("Pow", {InputSpec{DataType::kHALF, sym({3})}, InputSpec{DataType::kUINT8, sym({2, 1})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kHALF);
    EXPECT_EQ(symShapeToString(r.shape), "(2, 3)");
    EXPECT_FALSE(inferOne("Pow", {InputSpec{DataType::kINT8, sym({3})}, InputSpec{DataType::kINT8, sym({3})}}).status)
        << "int8 is not a Pow base type";
}

TEST(ElementwiseInference, AttributeChecks) {
    const std::vector<std::optional<InputSpec>> ints = {InputSpec{DataType::kUINT8, sym({2})},
                                                        InputSpec{DataType::kUINT8, sym({2})}};
    AttributeMap attrs;
    attrs.set("fmod", int64_t{2});
    EXPECT_FALSE(inferOne("Mod", ints, attrs).status);
    attrs.set("fmod", int64_t{1});
    EXPECT_TRUE(inferOne("Mod", ints, attrs).status);

    EXPECT_FALSE(inferOne("BitShift", ints).status) << "direction is required";
    attrs = {};
    attrs.set("direction", std::string("UP"));
    EXPECT_FALSE(inferOne("BitShift", ints, attrs).status);
    attrs.set("direction", std::string("RIGHT"));
    EXPECT_TRUE(inferOne("BitShift", ints, attrs).status);
    EXPECT_FALSE(
        inferOne("BitShift", {InputSpec{DataType::kFLOAT, sym({2})}, InputSpec{DataType::kFLOAT, sym({2})}}, attrs)
            .status);
}

TEST(ElementwiseInference, Where) {
    auto r = inferOne("Where", {InputSpec{DataType::kBOOL, sym({named("b"), 1, 4})},
                                InputSpec{DataType::kHALF, sym({3, 1})}, InputSpec{DataType::kHALF, {}}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kHALF);
    EXPECT_EQ(symShapeToString(r.shape), "(b, 3, 4)");
    EXPECT_FALSE(inferOne("Where", {InputSpec{DataType::kINT32, sym({2})}, InputSpec{DataType::kFLOAT, sym({2})},
                                    InputSpec{DataType::kFLOAT, sym({2})}})
                     .status)
        << "the condition must be bool";
    EXPECT_FALSE(inferOne("Where", {InputSpec{DataType::kBOOL, sym({2})}, InputSpec{DataType::kFLOAT, sym({2})},
                                    InputSpec{DataType::kINT32, sym({2})}})
                     .status);
}

TEST(ElementwiseInference, CastAndCastLike) {
    AttributeMap attrs;
    attrs.set("to", int64_t{10});
    auto r = inferOne("Cast", {InputSpec{DataType::kFLOAT, sym({named("n"), 2})}}, attrs);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kHALF);
    EXPECT_EQ(symShapeToString(r.shape), "(n, 2)");
    attrs.set("saturate", int64_t{0});
    EXPECT_TRUE(inferOne("Cast", {InputSpec{DataType::kFLOAT, sym({2})}}, attrs).status) << "saturate is accepted";

    attrs = {};
    EXPECT_FALSE(inferOne("Cast", {InputSpec{DataType::kFLOAT, sym({2})}}, attrs).status) << "to is required";
    attrs.set("to", int64_t{14});  // complex64
    r = inferOne("Cast", {InputSpec{DataType::kFLOAT, sym({2})}}, attrs);
    EXPECT_FALSE(r.status);
    EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);

    r = inferOne("CastLike", {InputSpec{DataType::kINT64, sym({4, named("k")})}, InputSpec{DataType::kBF16, sym({1})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kBF16);
    EXPECT_EQ(symShapeToString(r.shape), "(4, k)");
}

TEST(ElementwiseInference, UnaryTypeConstraints) {
    EXPECT_TRUE(inferOne("Abs", {InputSpec{DataType::kUINT16, sym({2})}}).status);
    EXPECT_FALSE(inferOne("Neg", {InputSpec{DataType::kUINT16, sym({2})}}).status) << "Neg is for signed types";
    EXPECT_FALSE(inferOne("Sqrt", {InputSpec{DataType::kINT32, sym({2})}}).status);
    EXPECT_FALSE(inferOne("Not", {InputSpec{DataType::kFLOAT, sym({2})}}).status);
    EXPECT_FALSE(inferOne("BitwiseNot", {InputSpec{DataType::kFLOAT, sym({2})}}).status);
    auto r = inferOne("Exp", {InputSpec{DataType::kBF16, sym({named("a"), 0})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kBF16);
    EXPECT_EQ(symShapeToString(r.shape), "(a, 0)");
}

TEST(ActivationInference, UnaryAndAttributes) {
    auto r = inferOne("Relu", {InputSpec{DataType::kINT8, sym({named("b"), 3})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(r.dtype, DataType::kINT8);
    EXPECT_FALSE(inferOne("Sigmoid", {InputSpec{DataType::kINT32, sym({2})}}).status);
    AttributeMap attrs;
    attrs.set("approximate", std::string("fast"));
    EXPECT_FALSE(inferOne("Gelu", {InputSpec{DataType::kFLOAT, sym({2})}}, attrs).status);
    attrs.set("approximate", std::string("tanh"));
    EXPECT_TRUE(inferOne("Gelu", {InputSpec{DataType::kFLOAT, sym({2})}}, attrs).status);
    attrs = {};
    attrs.set("alpha", 0.0f);
    EXPECT_FALSE(inferOne("Celu", {InputSpec{DataType::kFLOAT, sym({2})}}, attrs).status);
}

TEST(ActivationInference, PRelu) {
    auto r = inferOne("PRelu", {InputSpec{DataType::kFLOAT, sym({named("n"), 3, 8, 8})},
                                InputSpec{DataType::kFLOAT, sym({3, 1, 1})}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.shape), "(n, 3, 8, 8)");
    EXPECT_FALSE(
        inferOne("PRelu", {InputSpec{DataType::kFLOAT, sym({1, 8})}, InputSpec{DataType::kFLOAT, sym({4, 8})}}).status)
        << "the slope may not grow X";
    EXPECT_FALSE(
        inferOne("PRelu", {InputSpec{DataType::kFLOAT, sym({8})}, InputSpec{DataType::kFLOAT, sym({2, 8})}}).status);
}

TEST(ActivationInference, ClipBounds) {
    auto r = inferOne("Clip",
                      {InputSpec{DataType::kINT32, sym({named("n")})}, std::nullopt, InputSpec{DataType::kINT32, {}}});
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.shape), "(n)");
    EXPECT_TRUE(inferOne("Clip", {InputSpec{DataType::kFLOAT, sym({2})}, InputSpec{DataType::kFLOAT, sym({1})}}).status)
        << "a [1] bound is accepted";
    EXPECT_FALSE(
        inferOne("Clip", {InputSpec{DataType::kFLOAT, sym({2})}, InputSpec{DataType::kFLOAT, sym({2})}}).status)
        << "bounds are scalars";
    EXPECT_FALSE(inferOne("Clip", {InputSpec{DataType::kFLOAT, sym({2})}, InputSpec{DataType::kDOUBLE, {}}}).status);
}

TEST(ActivationInference, SoftmaxAxis) {
    AttributeMap attrs;
    attrs.set("axis", int64_t{-3});
    auto r = inferOne("Softmax", {InputSpec{DataType::kFLOAT, sym({named("b"), 4, 5})}}, attrs);
    ASSERT_TRUE(r.status) << r.status.message();
    EXPECT_EQ(symShapeToString(r.shape), "(b, 4, 5)");
    attrs.set("axis", int64_t{3});
    EXPECT_FALSE(inferOne("LogSoftmax", {InputSpec{DataType::kFLOAT, sym({2, 4, 5})}}, attrs).status);
    EXPECT_FALSE(inferOne("Hardmax", {InputSpec{DataType::kFLOAT, {}}}).status) << "a scalar has no axis -1";
    EXPECT_FALSE(inferOne("Softmax", {InputSpec{DataType::kINT32, sym({3})}}).status);
}

TEST(OnnxTypes, RoundTrip) {
    const std::vector<std::pair<int64_t, DataType>> table = {
        {1, DataType::kFLOAT},    {2, DataType::kUINT8},        {3, DataType::kINT8},
        {4, DataType::kUINT16},   {5, DataType::kINT16},        {6, DataType::kINT32},
        {7, DataType::kINT64},    {9, DataType::kBOOL},         {10, DataType::kHALF},
        {11, DataType::kDOUBLE},  {12, DataType::kUINT32},      {13, DataType::kUINT64},
        {16, DataType::kBF16},    {17, DataType::kFP8E4M3FN},   {18, DataType::kFP8E4M3FNUZ},
        {19, DataType::kFP8E5M2}, {20, DataType::kFP8E5M2FNUZ}, {21, DataType::kUINT4},
        {22, DataType::kINT4},    {23, DataType::kFP4E2M1},     {24, DataType::kFP8E8M0},
        {25, DataType::kUINT2},   {26, DataType::kINT2},        {8, DataType::kSTRING}};
    for (const auto& [onnx, type] : table) {
        EXPECT_EQ(dataTypeFromOnnx(onnx), type) << onnx;
        EXPECT_EQ(dataTypeToOnnx(type), onnx) << dataTypeName(type);
    }
    // complex64, complex128, float6e2m3, float6e3m2 and numbers onnx.proto does not define.
    for (int64_t unsupportedType : {0, 14, 15, 27, 28, 100, -1}) EXPECT_FALSE(dataTypeFromOnnx(unsupportedType));
}

TEST(OnnxTypes, LowBitTypesAreNamedAsOnnxSpellsThemAndTakeOneByte) {
    struct Row {
        DataType type;
        const char* name;
        const char* shortName;
        int bits;
    };
    for (const Row& r : {Row{DataType::kFP8E4M3FN, "float8e4m3fn", "f8e4m3fn", 8},
                         Row{DataType::kFP8E4M3FNUZ, "float8e4m3fnuz", "f8e4m3fnuz", 8},
                         Row{DataType::kFP8E5M2, "float8e5m2", "f8e5m2", 8},
                         Row{DataType::kFP8E5M2FNUZ, "float8e5m2fnuz", "f8e5m2fnuz", 8},
                         Row{DataType::kFP8E8M0, "float8e8m0", "f8e8m0", 8}, Row{DataType::kINT4, "int4", "i4", 4},
                         Row{DataType::kUINT4, "uint4", "u4", 4}, Row{DataType::kINT2, "int2", "i2", 2},
                         Row{DataType::kUINT2, "uint2", "u2", 2}, Row{DataType::kFP4E2M1, "float4e2m1", "f4e2m1", 4}}) {
        EXPECT_STREQ(dataTypeName(r.type), r.name);
        EXPECT_STREQ(dataTypeShortName(r.type), r.shortName);
        EXPECT_EQ(parseDataType(r.name), r.type) << r.name;
        EXPECT_EQ(dataTypeSize(r.type), 1u) << r.name;
        EXPECT_EQ(dataTypeBits(r.type), r.bits) << r.name;
        EXPECT_FALSE(isFloatingType(r.type) || isIntegerType(r.type) || isSignedType(r.type)) << r.name;
    }
    EXPECT_EQ(dataTypeBits(DataType::kINT64), 64);
    EXPECT_EQ(dataTypeBits(DataType::kBOOL), 8);
}

}  // namespace
}  // namespace kiln
