// Comparisons, boolean logic, bitwise ops, BitShift and Where on the CPU against references.

#include <cmath>
#include <cstring>
#include <limits>

#include "elementwise_test_util.h"

namespace kiln::test {
namespace {

const std::vector<DataType>& allNumericTypes() {
    static const std::vector<DataType> types = {
        DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF,  DataType::kBF16,   DataType::kINT8,  DataType::kUINT8,
        DataType::kINT16, DataType::kUINT16, DataType::kINT32, DataType::kUINT32, DataType::kINT64, DataType::kUINT64};
    return types;
}

/// A copy of `t` with every other element replaced by the matching element of `source`, so that
/// equality tests see both equal and unequal pairs.
Tensor mixEqual(const Tensor& t, const Tensor& source) {
    Tensor out = t.clone();
    const size_t size = dataTypeSize(t.dtype());
    for (int64_t i = 0; i < t.elementCount() && i < source.elementCount(); i += 2)
        std::memcpy(static_cast<char*>(out.data()) + i * size, static_cast<const char*>(source.data()) + i * size,
                    size);
    return out;
}

TEST(ElementwiseLogic, Comparisons) {
    uint32_t seed = 1;
    for (DataType type : allNumericTypes()) {
        for (auto [sa, sb] : {std::pair<Shape, Shape>{{3, 4}, {3, 4}},
                              {{2, 3, 4}, {4}},
                              {{5}, {}},
                              {{40000}, {40000}},
                              {{0, 2}, {1}}}) {
            Tensor a = randomTensor(type, sa, 0.0, 20.0, seed++);
            Tensor b = mixEqual(randomTensor(type, sb, 0.0, 20.0, seed++), a);
            const Shape out = broadcastConcrete({sa, sb});
            for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
                Tensor result = runOk(op, {&a, &b});
                auto ref = referenceBroadcast({&a, &b}, [&](const std::vector<double>& v) -> double {
                    const std::string o = op;
                    if (o == "Equal") return v[0] == v[1];
                    if (o == "Less") return v[0] < v[1];
                    if (o == "Greater") return v[0] > v[1];
                    if (o == "LessOrEqual") return v[0] <= v[1];
                    return v[0] >= v[1];
                });
                expectMatches(result, DataType::kBOOL, out, ref, {0, 0}, std::string(op) + " " + dataTypeName(type));
            }
        }
    }
    Tensor a = randomTensor(DataType::kBOOL, {6, 5}, 0, 1, 11);
    Tensor b = randomTensor(DataType::kBOOL, {5}, 0, 1, 12);
    Tensor eq = runOk("Equal", {&a, &b});
    expectMatches(eq, DataType::kBOOL, {6, 5},
                  referenceBroadcast({&a, &b}, [](const std::vector<double>& v) -> double { return v[0] == v[1]; }),
                  {0, 0}, "Equal bool");
}

TEST(ElementwiseLogic, ComparisonsWithNaN) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    Tensor a = tensorOf(DataType::kFLOAT, {2}, {nan, 1.0});
    Tensor b = tensorOf(DataType::kFLOAT, {2}, {nan, nan});
    for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
        Tensor out = runOk(op, {&a, &b});
        EXPECT_EQ(compareWithReference(out, {0, 0}, 0, 0), "") << op << ": comparisons with NaN are false";
    }
}

TEST(ElementwiseLogic, BooleanOps) {
    Tensor a = randomTensor(DataType::kBOOL, {4, 1, 6}, 0, 1, 21);
    Tensor b = randomTensor(DataType::kBOOL, {5, 1}, 0, 1, 22);
    for (const char* op : {"And", "Or", "Xor"}) {
        Tensor out = runOk(op, {&a, &b});
        auto ref = referenceBroadcast({&a, &b}, [&](const std::vector<double>& v) -> double {
            const bool x = v[0] != 0;
            const bool y = v[1] != 0;
            const std::string o = op;
            return o == "And" ? (x && y) : o == "Or" ? (x || y) : (x != y);
        });
        expectMatches(out, DataType::kBOOL, {4, 5, 6}, ref, {0, 0}, op);
    }
    Tensor big = randomTensor(DataType::kBOOL, {70000}, 0, 1, 23);
    Tensor notOut = runOk("Not", {&big});
    expectMatches(notOut, DataType::kBOOL, {70000},
                  referenceBroadcast({&big}, [](const std::vector<double>& v) -> double { return v[0] == 0; }), {0, 0},
                  "Not");
}

TEST(ElementwiseLogic, BitwiseOps) {
    uint32_t seed = 30;
    for (DataType type : {DataType::kINT8, DataType::kUINT8, DataType::kINT16, DataType::kUINT16, DataType::kINT32,
                          DataType::kUINT32, DataType::kINT64, DataType::kUINT64}) {
        const bool isSigned = isSignedType(type);
        Tensor a = randomTensor(type, {3, 5}, isSigned ? -100.0 : 0.0, 120.0, seed++);
        Tensor b = randomTensor(type, {5}, isSigned ? -100.0 : 0.0, 120.0, seed++);
        for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) {
            Tensor out = runOk(op, {&a, &b});
            auto ref = referenceBroadcast({&a, &b}, [&](const std::vector<double>& v) -> double {
                // Small values: int64 two's complement gives each type's bits after wrapping.
                const auto x = static_cast<int64_t>(v[0]);
                const auto y = static_cast<int64_t>(v[1]);
                const std::string o = op;
                const int64_t r = o == "BitwiseAnd" ? (x & y) : o == "BitwiseOr" ? (x | y) : (x ^ y);
                return static_cast<double>(r);
            });
            expectMatches(out, type, {3, 5}, ref, {0, 0}, std::string(op) + " " + dataTypeName(type));
        }
        Tensor notOut = runOk("BitwiseNot", {&a});
        auto ref = referenceBroadcast({&a}, [&](const std::vector<double>& v) {
            const int64_t r = ~static_cast<int64_t>(v[0]);
            // ~x of an unsigned value is its complement within the type's width.
            return isSigned ? static_cast<double>(r)
                            : static_cast<double>(static_cast<uint64_t>(r) &
                                                  (dataTypeSize(type) == 8
                                                       ? ~uint64_t{0}
                                                       : ((uint64_t{1} << (8 * dataTypeSize(type))) - 1)));
        });
        expectMatches(notOut, type, {3, 5}, ref, {0, 0}, std::string("BitwiseNot ") + dataTypeName(type));
    }
}

TEST(ElementwiseLogic, BitShift) {
    uint32_t seed = 40;
    for (DataType type : {DataType::kUINT8, DataType::kUINT16, DataType::kUINT32, DataType::kUINT64, DataType::kINT8,
                          DataType::kINT32, DataType::kINT64}) {
        const int bits = static_cast<int>(8 * dataTypeSize(type));
        const bool isSigned = isSignedType(type);
        // Amounts include negatives (signed types) and amounts >= the bit width.
        Tensor x = randomTensor(type, {4, 6}, isSigned ? -100.0 : 0.0, 100.0, seed++);
        Tensor amount = randomTensor(type, {6}, isSigned ? -2.0 : 0.0, bits + 3.0, seed++);
        for (const char* direction : {"LEFT", "RIGHT"}) {
            AttributeMap attrs;
            attrs.set("direction", std::string(direction));
            Tensor out = runOk("BitShift", {&x, &amount}, attrs);
            auto ref = referenceBroadcast({&x, &amount}, [&](const std::vector<double>& v) -> double {
                const auto value = static_cast<int64_t>(v[0]);
                const auto n = static_cast<int64_t>(v[1]);
                if (std::string(direction) == "LEFT") {
                    if (n < 0 || n >= bits) return 0;
                    // Multiply by 2^n, then keep the type's low bits.
                    return dispatchDataType(type, [&](auto tag) -> double {
                        using T = decltype(tag);
                        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
                            return static_cast<double>(static_cast<T>(static_cast<uint64_t>(value) << n));
                        else
                            return 0;
                    });
                }
                if (n < 0 || n >= bits) return value < 0 ? -1 : 0;
                return std::floor(static_cast<double>(value) / std::ldexp(1.0, static_cast<int>(n)));
            });
            expectMatches(out, type, {4, 6}, ref, {0, 0},
                          std::string("BitShift ") + direction + " " + dataTypeName(type));
        }
    }
}

TEST(ElementwiseLogic, WhereAllElementSizes) {
    uint32_t seed = 50;
    const std::vector<std::vector<Shape>> shapeSets = {
        {{3, 4}, {3, 4}, {3, 4}}, {{4}, {3, 4}, {}}, {{2, 1, 4}, {3, 1}, {1, 4}},
        {{50000}, {50000}, {1}},  {{1}, {}, {}},     {{0, 4}, {4}, {4}}};
    for (DataType type :
         {DataType::kBOOL, DataType::kHALF, DataType::kFLOAT, DataType::kINT64, DataType::kUINT8, DataType::kDOUBLE}) {
        for (const auto& shapes : shapeSets) {
            Tensor c = randomTensor(DataType::kBOOL, shapes[0], 0, 1, seed++);
            Tensor x = randomTensor(type, shapes[1], 0.0, 50.0, seed++);
            Tensor y = randomTensor(type, shapes[2], -50.0, 0.0, seed++);
            Tensor out = runOk("Where", {&c, &x, &y});
            auto ref =
                referenceBroadcast({&c, &x, &y}, [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; });
            expectMatches(
                out, type, broadcastConcrete(shapes), ref, {0, 0},
                std::string("Where ") + dataTypeName(type) + " " + shapeToString(broadcastConcrete(shapes), true));
        }
    }
}

}  // namespace
}  // namespace kiln::test
