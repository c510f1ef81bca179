// Add Sub Mul Div Mod Pow and the variadic Max Min Sum Mean on the CPU, against double-precision
// references with numpy broadcasting.

#include <cmath>
#include <limits>

#include "elementwise_test_util.h"

namespace kiln::test {
namespace {

struct ShapePair {
    Shape a;
    Shape b;
};

// Same shapes, scalar operands, per-channel bias, two-sided broadcast, 1-sized dims, rank 0,
// an empty tensor, and sizes above the OpenMP threshold.
const std::vector<ShapePair>& broadcastCases() {
    static const std::vector<ShapePair> cases = {
        {{2, 3, 4}, {2, 3, 4}},
        {{5, 7}, {}},
        {{}, {5, 7}},
        {{2, 3, 4, 5}, {3, 1, 1}},
        {{4, 1, 6}, {5, 1}},
        {{1, 1}, {1}},
        {{}, {}},
        {{0, 3}, {3}},
        {{3, 1}, {1, 0}},
        {{7}, {1}},
        {{64, 1024}, {1024}},
        {{8, 64, 16, 16}, {64, 1, 1}},
        {{2, 40000}, {2, 1}},
        {{100000}, {100000}},
        {{1, 3, 1, 5}, {2, 1, 4, 1}},
    };
    return cases;
}

double arithmetic(const std::string& op, double a, double b) {
    if (op == "Add") return a + b;
    if (op == "Sub") return a - b;
    if (op == "Mul") return a * b;
    return a / b;
}

TEST(ElementwiseArithmetic, FloatTypesWithBroadcasting) {
    uint32_t seed = 1;
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
        for (DataType type : floatTypes()) {
            for (const ShapePair& shapes : broadcastCases()) {
                Tensor a = randomTensor(type, shapes.a, -3.0, 3.0, seed++);
                // Divisors stay away from 0 (relative error of a quotient is fine, of 1/0 is not).
                Tensor b = std::string(op) == "Div" ? randomTensor(type, shapes.b, 0.5, 2.5, seed++)
                                                    : randomTensor(type, shapes.b, -3.0, 3.0, seed++);
                Tensor out = runOk(op, {&a, &b});
                auto ref = referenceBroadcast({&a, &b},
                                              [&](const std::vector<double>& v) { return arithmetic(op, v[0], v[1]); });
                expectMatches(out, type, broadcastConcrete({shapes.a, shapes.b}), ref, toleranceFor(type),
                              std::string(op) + " " + dataTypeName(type) + " " + shapeToString(shapes.a, true) + " " +
                                  shapeToString(shapes.b, true));
            }
        }
    }
}

/// `value` wrapped into `type`'s range (two's complement), as a double.
double wrapTo(DataType type, int64_t value) {
    return dispatchDataType(type, [&](auto tag) -> double {
        using T = decltype(tag);
        if constexpr (std::is_integral_v<T>)
            return static_cast<double>(static_cast<T>(value));
        else
            return static_cast<double>(value);
    });
}

const std::vector<DataType>& integerTypes() {
    static const std::vector<DataType> types = {DataType::kINT8,   DataType::kUINT8, DataType::kINT16,
                                                DataType::kUINT16, DataType::kINT32, DataType::kUINT32,
                                                DataType::kINT64,  DataType::kUINT64};
    return types;
}

TEST(ElementwiseArithmetic, IntegerTypesWrapAndTruncate) {
    uint32_t seed = 100;
    for (DataType type : integerTypes()) {
        const bool isSigned = isSignedType(type);
        for (const ShapePair& shapes :
             {ShapePair{{3, 4}, {3, 4}}, ShapePair{{2, 3, 5}, {3, 1}}, ShapePair{{6}, {}}, ShapePair{{50000}, {1}}}) {
            // Large enough magnitudes that int8 / uint8 products and differences wrap.
            Tensor a = randomTensor(type, shapes.a, isSigned ? -120.0 : 0.0, isSigned ? 120.0 : 250.0, seed++);
            Tensor b = randomTensor(type, shapes.b, isSigned ? -9.0 : 0.0, 9.0, seed++);  // zeros included
            const Shape outShape = broadcastConcrete({shapes.a, shapes.b});
            for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
                Tensor out = runOk(op, {&a, &b});
                auto ref = referenceBroadcast({&a, &b}, [&](const std::vector<double>& v) {
                    const auto x = static_cast<int64_t>(v[0]);
                    const auto y = static_cast<int64_t>(v[1]);
                    if (std::string(op) == "Add") return wrapTo(type, x + y);
                    if (std::string(op) == "Sub") return wrapTo(type, x - y);
                    if (std::string(op) == "Mul") return wrapTo(type, x * y);
                    return y == 0 ? 0.0 : wrapTo(type, x / y);  // C truncation; x / 0 is defined as 0
                });
                expectMatches(out, type, outShape, ref, {0, 0}, std::string(op) + " " + dataTypeName(type));
            }
        }
    }
}

TEST(ElementwiseArithmetic, IntegerDivisionEdgeCases) {
    const int32_t minValue = std::numeric_limits<int32_t>::min();
    Tensor a = tensorOf(DataType::kINT32, {5}, {-7, 7, static_cast<double>(minValue), 5, -1});
    Tensor b = tensorOf(DataType::kINT32, {5}, {2, -2, -1, 0, 0});
    Tensor out = runOk("Div", {&a, &b});
    // -7/2 and 7/-2 truncate toward zero; MIN / -1 wraps to MIN; division by zero gives 0.
    EXPECT_EQ(compareWithReference(out, {-3, -3, static_cast<double>(minValue), 0, 0}, 0, 0), "");
}

double floorMod(double a, double b) {
    return a - std::floor(a / b) * b;
}

TEST(ElementwiseArithmetic, ModBothConventions) {
    uint32_t seed = 200;
    for (int64_t fmod : {0, 1}) {
        AttributeMap attrs;
        attrs.set("fmod", fmod);
        for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}) {
            Tensor a = randomTensor(type, {4, 5, 6}, -20.0, 20.0, seed++);
            Tensor b = randomTensor(type, {5, 1}, -6.0, 6.0, seed++);
            Tensor out = runOk("Mod", {&a, &b}, attrs);
            auto ref = referenceBroadcast({&a, &b}, [&](const std::vector<double>& v) {
                return fmod == 1 ? std::fmod(v[0], v[1]) : floorMod(v[0], v[1]);
            });
            // A floor-mod near a multiple of b may land on either side of the period boundary in
            // float; the absolute tolerance is scaled to |b|'s range.
            Tolerance tol = toleranceFor(type);
            expectMatches(out, type, {4, 5, 6}, ref, {tol.rtol, tol.atol * 20},
                          "Mod " + std::string(dataTypeName(type)));
        }
        for (DataType type : {DataType::kINT32, DataType::kINT8, DataType::kUINT16, DataType::kINT64}) {
            const bool isSigned = isSignedType(type);
            Tensor a = randomTensor(type, {3, 7}, isSigned ? -100.0 : 0.0, 100.0, seed++);
            Tensor b = randomTensor(type, {7}, isSigned ? -8.0 : 0.0, 8.0, seed++);  // zeros included
            Tensor out = runOk("Mod", {&a, &b}, attrs);
            auto ref = referenceBroadcast({&a, &b}, [&](const std::vector<double>& v) {
                if (v[1] == 0) return 0.0;  // defined as 0 (no trap)
                return fmod == 1 ? std::fmod(v[0], v[1]) : floorMod(v[0], v[1]);
            });
            expectMatches(out, type, {3, 7}, ref, {0, 0}, "Mod int " + std::string(dataTypeName(type)));
        }
    }
}

TEST(ElementwiseArithmetic, ModFloorSpecialValues) {
    Tensor a = tensorOf(DataType::kFLOAT, {4}, {0.0, 3.0, -3.0, 5.0});
    Tensor b = tensorOf(DataType::kFLOAT, {4}, {-2.0, -3.0, std::numeric_limits<double>::infinity(), 0.0});
    Tensor out = runOk("Mod", {&a, &b});
    // From the ONNX spec: a zero result takes the divisor's sign; x mod +inf of a negative x is +inf;
    // y == 0 gives NaN.
    EXPECT_TRUE(std::signbit(out.data<float>()[0]));
    EXPECT_TRUE(std::signbit(out.data<float>()[1]));
    EXPECT_EQ(out.data<float>()[2], std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(out.data<float>()[3]));
}

TEST(ElementwiseArithmetic, PowMixedTypes) {
    uint32_t seed = 300;
    struct Case {
        DataType base;
        DataType exponent;
        double baseLo, baseHi, expLo, expHi;
    };
    const std::vector<Case> cases = {
        {DataType::kFLOAT, DataType::kFLOAT, 0.1, 3.0, -2.0, 2.0},
        {DataType::kDOUBLE, DataType::kDOUBLE, 0.1, 3.0, -2.0, 2.0},
        {DataType::kHALF, DataType::kFLOAT, 0.1, 2.0, -2.0, 2.0},
        {DataType::kBF16, DataType::kINT32, -2.0, 2.0, 0.0, 4.0},
        {DataType::kFLOAT, DataType::kINT64, -3.0, 3.0, -3.0, 4.0},
        {DataType::kINT32, DataType::kINT32, -6.0, 6.0, 0.0, 6.0},
        {DataType::kINT64, DataType::kUINT8, -9.0, 9.0, 0.0, 8.0},
        {DataType::kINT64, DataType::kFLOAT, 1.0, 9.0, 0.0, 3.0},
    };
    for (const Case& c : cases) {
        for (const ShapePair& shapes :
             {ShapePair{{3, 4}, {3, 4}}, ShapePair{{2, 3, 4}, {4}}, ShapePair{{5}, {}}, ShapePair{{4, 1}, {1, 3}}}) {
            Tensor a = randomTensor(c.base, shapes.a, c.baseLo, c.baseHi, seed++);
            Tensor b = randomTensor(c.exponent, shapes.b, c.expLo, c.expHi, seed++);
            Tensor out = runOk("Pow", {&a, &b});
            const bool integerBase = isIntegerType(c.base);
            auto ref = referenceBroadcast({&a, &b}, [&](const std::vector<double>& v) {
                const double p = std::pow(v[0], v[1]);
                return integerBase ? std::trunc(p) : p;  // numpy's power(a, b).astype(a.dtype)
            });
            const Tolerance tol = integerBase ? Tolerance{0, 0} : toleranceFor(c.base);
            expectMatches(out, c.base, broadcastConcrete({shapes.a, shapes.b}), ref, {tol.rtol * 4, tol.atol},
                          std::string("Pow ") + dataTypeName(c.base) + "^" + dataTypeName(c.exponent));
        }
    }
}

TEST(ElementwiseArithmetic, PowScalarExponents) {
    // Exponent 2 takes the x * x fast path; 3 and 0.5 the general one. Large enough for threads.
    for (double e : {2.0, 3.0, 0.5}) {
        for (DataType type : floatTypes()) {
            Tensor a = randomTensor(type, {3, 20000}, 0.1, 4.0, 7);
            Tensor b = tensorOf(DataType::kFLOAT, {}, {e});
            Tensor out = runOk("Pow", {&a, &b});
            auto ref = referenceBroadcast({&a, &b}, [](const std::vector<double>& v) { return std::pow(v[0], v[1]); });
            Tolerance tol = toleranceFor(type);
            expectMatches(out, type, {3, 20000}, ref, {tol.rtol * 4, tol.atol},
                          "Pow exponent " + std::to_string(e) + " " + dataTypeName(type));
        }
    }
}

TEST(ElementwiseArithmetic, IntegerPowNegativeExponent) {
    Tensor a = tensorOf(DataType::kINT32, {5}, {2, 1, -1, -1, 0});
    Tensor b = tensorOf(DataType::kINT32, {5}, {-1, -3, -3, -2, -1});
    Tensor out = runOk("Pow", {&a, &b});
    // Truncated reciprocals: 2^-1 -> 0, 1^-3 -> 1, (-1)^-3 -> -1, (-1)^-2 -> 1, and 0^-1 is defined as 0.
    EXPECT_EQ(compareWithReference(out, {0, 1, -1, 1, 0}, 0, 0), "");
}

TEST(ElementwiseArithmetic, VariadicMaxMinSumMean) {
    uint32_t seed = 400;
    const std::vector<std::vector<Shape>> shapeSets = {
        {{3, 4}},     {{2, 3}, {3}}, {{3, 1}, {1, 4}, {2, 1, 1}}, {{}, {5}, {5}, {1}}, {{40000}, {40000}, {1}},
        {{0, 2}, {2}}};
    for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
        for (DataType type : floatTypes()) {
            for (const auto& shapes : shapeSets) {
                std::vector<Tensor> tensors;
                for (const Shape& s : shapes) tensors.push_back(randomTensor(type, s, -5.0, 5.0, seed++));
                std::vector<const Tensor*> inputs;
                for (const Tensor& t : tensors) inputs.push_back(&t);
                Tensor out = runOk(op, inputs);
                auto ref = referenceBroadcast(inputs, [&](const std::vector<double>& v) {
                    double r = v[0];
                    for (size_t k = 1; k < v.size(); ++k) {
                        if (std::string(op) == "Max")
                            r = std::max(r, v[k]);
                        else if (std::string(op) == "Min")
                            r = std::min(r, v[k]);
                        else
                            r += v[k];
                    }
                    return std::string(op) == "Mean" ? r / static_cast<double>(v.size()) : r;
                });
                // Half and bfloat16 round after each pairwise step.
                Tolerance tol = toleranceFor(type);
                expectMatches(out, type, broadcastConcrete(shapes), ref, {tol.rtol * 3, tol.atol * 10},
                              std::string(op) + " " + dataTypeName(type) + " x" + std::to_string(shapes.size()));
            }
        }
    }
    for (DataType type : integerTypes()) {
        Tensor a = randomTensor(type, {4, 3}, 0.0, 100.0, seed++);
        Tensor b = randomTensor(type, {3}, 0.0, 100.0, seed++);
        Tensor c = randomTensor(type, {4, 1}, 0.0, 100.0, seed++);
        for (const char* op : {"Max", "Min"}) {
            Tensor out = runOk(op, {&a, &b, &c});
            auto ref = referenceBroadcast({&a, &b, &c}, [&](const std::vector<double>& v) {
                return std::string(op) == "Max" ? std::max({v[0], v[1], v[2]}) : std::min({v[0], v[1], v[2]});
            });
            expectMatches(out, type, {4, 3}, ref, {0, 0}, std::string(op) + " " + dataTypeName(type));
        }
    }
}

TEST(ElementwiseArithmetic, MaxMinPropagateNaN) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    Tensor a = tensorOf(DataType::kFLOAT, {3}, {nan, 1.0, 2.0});
    Tensor b = tensorOf(DataType::kFLOAT, {3}, {1.0, nan, -2.0});
    for (const char* op : {"Max", "Min"}) {
        Tensor out = runOk(op, {&a, &b});
        EXPECT_TRUE(std::isnan(out.data<float>()[0])) << op;
        EXPECT_TRUE(std::isnan(out.data<float>()[1])) << op;
        EXPECT_EQ(out.data<float>()[2], std::string(op) == "Max" ? 2.0f : -2.0f);
    }
}

TEST(ElementwiseArithmetic, MismatchedShapesFail) {
    Tensor a = randomTensor(DataType::kFLOAT, {2, 3}, -1, 1, 1);
    Tensor b = randomTensor(DataType::kFLOAT, {4}, -1, 1, 2);
    SingleNodeRun run = runSingleNode("Add", {&a, &b}, 1, {});
    EXPECT_FALSE(run.status.isOk());
}

}  // namespace
}  // namespace kiln::test
