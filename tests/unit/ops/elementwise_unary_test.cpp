// Unary math (Neg Abs Sign, float functions, IsNaN, IsInf) and Cast / CastLike on the CPU.

#include <cmath>
#include <cstring>
#include <limits>

#include "elementwise_test_util.h"
#include "ir/onnx_types.h"

namespace kiln::test {
namespace {

struct UnaryCase {
    const char* op;
    double lo;
    double hi;
    double (*fn)(double);
};

double sign(double x) {
    return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
}

TEST(ElementwiseUnary, FloatFunctions) {
    const std::vector<UnaryCase> cases = {
        {"Neg", -5, 5, [](double x) { return -x; }},
        {"Abs", -5, 5, [](double x) { return std::fabs(x); }},
        {"Sign", -5, 5, sign},
        {"Sqrt", 0.01, 50, [](double x) { return std::sqrt(x); }},
        {"Reciprocal", 0.2, 5, [](double x) { return 1.0 / x; }},
        {"Exp", -10, 10, [](double x) { return std::exp(x); }},
        {"Log", 0.01, 100, [](double x) { return std::log(x); }},
        {"Ceil", -5, 5, [](double x) { return std::ceil(x); }},
        {"Floor", -5, 5, [](double x) { return std::floor(x); }},
        {"Round", -5, 5, [](double x) { return x - std::remainder(x, 1.0); }},  // remainder rounds halves to even
        {"Erf", -3, 3, [](double x) { return std::erf(x); }},
        {"Sin", -6, 6, [](double x) { return std::sin(x); }},
        {"Cos", -6, 6, [](double x) { return std::cos(x); }},
        {"Tan", -1.4, 1.4, [](double x) { return std::tan(x); }},
        {"Asin", -0.99, 0.99, [](double x) { return std::asin(x); }},
        {"Acos", -0.99, 0.99, [](double x) { return std::acos(x); }},
        {"Atan", -5, 5, [](double x) { return std::atan(x); }},
        {"Sinh", -4, 4, [](double x) { return std::sinh(x); }},
        {"Cosh", -4, 4, [](double x) { return std::cosh(x); }},
        {"Asinh", -5, 5, [](double x) { return std::asinh(x); }},
        {"Acosh", 1.01, 6, [](double x) { return std::acosh(x); }},
        {"Atanh", -0.95, 0.95, [](double x) { return std::atanh(x); }},
    };
    uint32_t seed = 1;
    for (const UnaryCase& c : cases) {
        for (DataType type : floatTypes()) {
            for (const Shape& shape : {Shape{3, 5}, Shape{}, Shape{0, 4}, Shape{50000}}) {
                Tensor x = randomTensor(type, shape, c.lo, c.hi, seed++);
                Tensor out = runOk(c.op, {&x});
                auto ref = referenceBroadcast({&x}, [&](const std::vector<double>& v) { return c.fn(v[0]); });
                // Float functions are within a few ulp; the output rounding dominates for f16/bf16.
                Tolerance tol = toleranceFor(type);
                expectMatches(out, type, shape, ref, {tol.rtol * 4, tol.atol},
                              std::string(c.op) + " " + dataTypeName(type));
            }
        }
    }
}

TEST(ElementwiseUnary, RoundHalvesToEven) {
    // The ONNX spec's examples plus more halves.
    Tensor x = tensorOf(DataType::kFLOAT, {9}, {0.9, 2.5, 2.3, 1.5, -4.5, 0.5, -0.5, 3.5, -2.5});
    Tensor out = runOk("Round", {&x});
    EXPECT_EQ(compareWithReference(out, {1, 2, 2, 2, -4, 0, -0, 4, -2}, 0, 0), "");
}

TEST(ElementwiseUnary, IntegerNegAbsSign) {
    uint32_t seed = 100;
    for (DataType type : {DataType::kINT8, DataType::kINT16, DataType::kINT32, DataType::kINT64, DataType::kUINT8,
                          DataType::kUINT32, DataType::kUINT64}) {
        const bool isSigned = isSignedType(type);
        Tensor x = randomTensor(type, {4, 7}, isSigned ? -100.0 : 0.0, 100.0, seed++);
        for (const char* op : {"Neg", "Abs", "Sign"}) {
            if (!isSigned && std::string(op) == "Neg") continue;
            Tensor out = runOk(op, {&x});
            auto ref = referenceBroadcast({&x}, [&](const std::vector<double>& v) {
                const std::string o = op;
                return o == "Neg" ? -v[0] : o == "Abs" ? std::fabs(v[0]) : sign(v[0]);
            });
            expectMatches(out, type, {4, 7}, ref, {0, 0}, std::string(op) + " " + dataTypeName(type));
        }
    }
    // The most negative value wraps (two's complement) instead of overflowing.
    Tensor minValue = tensorOf(DataType::kINT8, {1}, {-128});
    EXPECT_EQ(compareWithReference(runOk("Abs", {&minValue}), {-128}, 0, 0), "");
    EXPECT_EQ(compareWithReference(runOk("Neg", {&minValue}), {-128}, 0, 0), "");
}

TEST(ElementwiseUnary, IsNaNAndIsInf) {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::vector<double> values = {1.5, -inf, nan, inf, 0.0, -3.25, nan, 65000};
    for (DataType type : floatTypes()) {
        Tensor x = tensorOf(type, {2, 4}, values);
        Tensor isNan = runOk("IsNaN", {&x});
        expectMatches(isNan, DataType::kBOOL, {2, 4}, {0, 0, 1, 0, 0, 0, 1, 0}, {0, 0}, "IsNaN");
        for (int64_t negative : {0, 1}) {
            for (int64_t positive : {0, 1}) {
                AttributeMap attrs;
                attrs.set("detect_negative", negative);
                attrs.set("detect_positive", positive);
                Tensor isInf = runOk("IsInf", {&x}, attrs);
                std::vector<double> ref;
                for (double v : values) ref.push_back((v == inf && positive) || (v == -inf && negative));
                expectMatches(isInf, DataType::kBOOL, {2, 4}, ref, {0, 0}, "IsInf " + std::string(dataTypeName(type)));
            }
        }
    }
}

const std::vector<DataType>& allTypes() {
    static const std::vector<DataType> types = {
        DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF,   DataType::kBF16,  DataType::kINT8,
        DataType::kUINT8, DataType::kINT16,  DataType::kUINT16, DataType::kINT32, DataType::kUINT32,
        DataType::kINT64, DataType::kUINT64, DataType::kBOOL};
    return types;
}

/// The value `v` (exactly representable in the source type) as the target type stores it.
double castReference(double v, DataType to) {
    if (to == DataType::kBOOL) return v != 0;
    if (isIntegerType(to)) return std::trunc(v);  // inputs stay inside every integer range below
    if (to == DataType::kHALF) return static_cast<float>(Half(static_cast<float>(v)));
    if (to == DataType::kBF16) return static_cast<float>(BFloat16(static_cast<float>(v)));
    if (to == DataType::kFLOAT) return static_cast<float>(v);
    return v;
}

TEST(ElementwiseCast, EveryTypePair) {
    uint32_t seed = 200;
    for (DataType from : allTypes()) {
        // Non-negative values below 100 fit every type; fractions exercise float -> int truncation.
        Tensor x = randomTensor(from, {3, 1, 5}, 0.0, 100.0, seed++);
        for (DataType to : allTypes()) {
            AttributeMap attrs;
            attrs.set("to", dataTypeToOnnx(to));
            Tensor out = runOk("Cast", {&x}, attrs);
            auto ref = referenceBroadcast({&x}, [&](const std::vector<double>& v) { return castReference(v[0], to); });
            expectMatches(out, to, {3, 1, 5}, ref, {0, 0},
                          std::string("Cast ") + dataTypeName(from) + " -> " + dataTypeName(to));
            Tensor like = Tensor::allocate(to, {2});
            Tensor castLike = runOk("CastLike", {&x, &like});
            expectMatches(castLike, to, {3, 1, 5}, ref, {0, 0},
                          std::string("CastLike ") + dataTypeName(from) + " -> " + dataTypeName(to));
        }
    }
}

TEST(ElementwiseCast, BitCastKeepsEveryByteAndRefusesOtherWidths) {
    uint32_t seed = 300;
    for (DataType from : allTypes()) {
        Tensor x = randomTensor(from, {2, 3}, -50.0, 50.0, seed++);
        for (DataType to : allTypes()) {
            AttributeMap attrs;
            attrs.set("to", dataTypeToOnnx(to));
            if (dataTypeSize(to) != dataTypeSize(from)) {
                EXPECT_FALSE(runSingleNode("BitCast", {&x}, 1, attrs).status)
                    << dataTypeName(from) << " -> " << dataTypeName(to);
                continue;
            }
            Tensor out = runOk("BitCast", {&x}, attrs);
            ASSERT_EQ(out.dtype(), to);
            ASSERT_EQ(out.shape(), x.shape());
            EXPECT_EQ(std::memcmp(out.data(), x.data(), x.byteSize()), 0)
                << dataTypeName(from) << " -> " << dataTypeName(to);
        }
    }
}

TEST(ElementwiseCast, FloatToIntegerSaturatesAndTruncates) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    Tensor x = tensorOf(DataType::kFLOAT, {7}, {-2.7, 2.7, 300.0, -300.0, nan, inf, -inf});
    AttributeMap attrs;
    attrs.set("to", int64_t{3});  // int8
    EXPECT_EQ(compareWithReference(runOk("Cast", {&x}, attrs), {-2, 2, 127, -128, 0, 127, -128}, 0, 0), "");
    attrs.set("to", int64_t{2});  // uint8
    EXPECT_EQ(compareWithReference(runOk("Cast", {&x}, attrs), {0, 2, 255, 0, 0, 255, 0}, 0, 0), "");
    attrs.set("to", int64_t{9});  // bool: NaN is nonzero
    EXPECT_EQ(compareWithReference(runOk("Cast", {&x}, attrs), {1, 1, 1, 1, 1, 1, 1}, 0, 0), "");
}

TEST(ElementwiseCast, IntegerNarrowingKeepsLowBits) {
    Tensor x = tensorOf(DataType::kINT32, {4}, {200, -56, 65537, -1});
    AttributeMap attrs;
    attrs.set("to", int64_t{3});  // int8: 200 -> -56 (the ONNX spec's example)
    EXPECT_EQ(compareWithReference(runOk("Cast", {&x}, attrs), {-56, -56, 1, -1}, 0, 0), "");
    attrs.set("to", int64_t{4});  // uint16
    EXPECT_EQ(compareWithReference(runOk("Cast", {&x}, attrs), {200, 65480, 1, 65535}, 0, 0), "");
}

TEST(ElementwiseCast, LargeAndHalfPrecision) {
    Tensor x = randomTensor(DataType::kFLOAT, {70000}, -70000.0, 70000.0, 5);
    AttributeMap attrs;
    attrs.set("to", int64_t{10});
    Tensor out = runOk("Cast", {&x}, attrs);
    // Values beyond half's range become infinities.
    auto ref = referenceBroadcast({&x}, [](const std::vector<double>& v) {
        return static_cast<double>(static_cast<float>(Half(static_cast<float>(v[0]))));
    });
    expectMatches(out, DataType::kHALF, {70000}, ref, {0, 0}, "Cast f32 -> f16");
    EXPECT_TRUE(std::isinf(static_cast<float>(Half(70000.0f))));
}

TEST(ElementwiseCast, UnsupportedTargetFails) {
    Tensor x = randomTensor(DataType::kFLOAT, {2}, -1, 1, 1);
    AttributeMap attrs;
    attrs.set("to", int64_t{14});  // complex64
    SingleNodeRun run = runSingleNode("Cast", {&x}, 1, attrs);
    EXPECT_FALSE(run.status.isOk());
    EXPECT_NE(run.status.message().find("cannot cast to ONNX element type 14"), std::string::npos)
        << run.status.message();
}

}  // namespace
}  // namespace kiln::test
