// Cast and CastLike to and from the low-bit types (float8, float4e2m1, int4, uint4, int2, uint2)
// on the CPU backend, against references written from ONNX's Cast tables
// (tests/support/low_precision_reference.h): stored codes compared exactly.

#include <cmath>
#include <limits>
#include <random>

#include "elementwise_test_util.h"
#include "ir/onnx_types.h"
#include "low_precision_reference.h"
#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

/// A tensor of low-bit `type` holding the stored bytes `codes`.
Tensor codesTensor(DataType type, const std::vector<uint8_t>& codes) {
    Tensor t = Tensor::allocate(type, {static_cast<int64_t>(codes.size())});
    for (size_t i = 0; i < codes.size(); ++i) t.data<uint8_t>()[i] = codes[i];
    return t;
}

std::vector<uint8_t> allCodes(int count) {
    std::vector<uint8_t> codes;
    for (int c = 0; c < count; ++c) codes.push_back(static_cast<uint8_t>(c));
    return codes;
}

AttributeMap castTo(DataType type) {
    AttributeMap attrs;
    attrs.set("to", dataTypeToOnnx(type));
    return attrs;
}

/// Float inputs that probe every rule: random magnitudes over each format's range, exact ties,
/// the largest values and just past them, subnormals, signed zeros, infinities and NaN.
std::vector<float> probeValues(const Format& f, uint32_t seed) {
    std::vector<float> values = {0.0f,
                                 -0.0f,
                                 std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(),
                                 std::numeric_limits<float>::quiet_NaN(),
                                 static_cast<float>(f.maxFinite),
                                 static_cast<float>(-f.maxFinite),
                                 static_cast<float>(f.maxFinite * 1.03),
                                 static_cast<float>(f.maxFinite * 1.2),
                                 static_cast<float>(f.minSubnormal),
                                 static_cast<float>(f.minSubnormal * 0.5),
                                 static_cast<float>(f.minSubnormal * 0.51),
                                 1e-30f,
                                 -1e-30f,
                                 1e6f,
                                 -1e6f};
    for (int code = 0; code + 1 < 1 << (f.exponentBits + f.mantissaBits); ++code) {
        const double lo = referenceValue(f, code), hi = referenceValue(f, code + 1);
        if (std::isfinite(lo) && std::isfinite(hi)) values.push_back(static_cast<float>((lo + hi) / 2));
    }
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> exponent(std::log2(f.minSubnormal) - 2, std::log2(f.maxFinite) + 2);
    for (int i = 0; i < 300; ++i) values.push_back(static_cast<float>((i % 2 ? -1 : 1) * std::exp2(exponent(rng))));
    return values;
}

TEST(CastLowBit, FloatToEveryFloat8AndFloat4WithAndWithoutSaturation) {
    for (const Format& f : formats()) {
        const std::vector<float> values = probeValues(f, 1);
        Tensor x = Tensor::allocate(DataType::kFLOAT, {static_cast<int64_t>(values.size())});
        for (size_t i = 0; i < values.size(); ++i) x.data<float>()[i] = values[i];
        for (bool saturate : {true, false}) {
            AttributeMap attrs = castTo(f.type);
            attrs.set("saturate", int64_t{saturate ? 1 : 0});
            SingleNodeRun run = runOp("Cast", {&x}, attrs);
            ASSERT_TRUE(run.status) << dataTypeName(f.type) << ": " << run.status.message();
            ASSERT_EQ(run.outputs[0].dtype(), f.type);
            const uint8_t* y = run.outputs[0].data<uint8_t>();
            for (size_t i = 0; i < values.size(); ++i)
                EXPECT_EQ(int{y[i]}, int{expectedCastCode(f, values[i], saturate)})
                    << dataTypeName(f.type) << " x=" << values[i] << " saturate=" << saturate;
        }
    }
}

TEST(CastLowBit, Float16AndDoubleAndIntegersToFloat8) {
    const Format& e4m3 = formats()[0];
    const Format& e5m2 = formats()[2];
    const std::vector<double> floats = {0.1, -0.3, 1.5, 300.0, -1000.0, 65504.0, 7.0, -2.0};
    const std::vector<double> integers = {0, -3, 1, 100, -100, 127, 17, -2};  // inside int8
    for (DataType from : {DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT8}) {
        Tensor x = tensorOf(from, {8}, isFloatingType(from) ? floats : integers);
        for (const Format* f : {&e4m3, &e5m2}) {
            SingleNodeRun run = runOp("Cast", {&x}, castTo(f->type));
            ASSERT_TRUE(run.status) << run.status.message();
            for (int64_t i = 0; i < 8; ++i)
                EXPECT_EQ(int{run.outputs[0].data<uint8_t>()[i]}, int{expectedCastCode(*f, x.elementAsDouble(i), true)})
                    << dataTypeName(from) << " -> " << dataTypeName(f->type) << " element " << i;
        }
    }
}

TEST(CastLowBit, EveryFloat8AndFloat4CodeToWiderTypes) {
    for (const Format& f : formats()) {
        Tensor x = codesTensor(f.type, allCodes(1 << (1 + f.exponentBits + f.mantissaBits)));
        std::vector<double> values;
        for (int64_t i = 0; i < x.elementCount(); ++i) values.push_back(referenceValue(f, static_cast<int>(i)));
        for (DataType to : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}) {
            SingleNodeRun run = runOp("Cast", {&x}, castTo(to));
            ASSERT_TRUE(run.status) << run.status.message();
            // Every float8 / float4 value is exact in these types.
            expectExact(run.outputs[0], values, std::string(dataTypeName(f.type)) + " -> " + dataTypeName(to));
        }
        SingleNodeRun toInt = runOp("Cast", {&x}, castTo(DataType::kINT32));
        ASSERT_TRUE(toInt.status) << toInt.status.message();
        SingleNodeRun toBool = runOp("Cast", {&x}, castTo(DataType::kBOOL));
        ASSERT_TRUE(toBool.status) << toBool.status.message();
        for (size_t i = 0; i < values.size(); ++i) {
            const double v = values[i];
            // Kiln's float -> integer rule: truncate, saturate, NaN -> 0.
            const double asInt = std::isnan(v) ? 0 : std::clamp(std::trunc(v), -2147483648.0, 2147483647.0);
            EXPECT_EQ(toInt.outputs[0].data<int32_t>()[i], static_cast<int32_t>(asInt))
                << dataTypeName(f.type) << " " << v;
            EXPECT_EQ(toBool.outputs[0].data<bool>()[i], v != 0) << dataTypeName(f.type) << " " << v;
        }
    }
}

/// ONNX's integer rule: the low `bits` bits, two's complement for the signed types.
int64_t wrapped(int64_t v, int bits, bool isSigned) {
    const int64_t modulus = int64_t{1} << bits;
    int64_t r = ((v % modulus) + modulus) % modulus;
    return isSigned && r >= modulus / 2 ? r - modulus : r;
}

struct IntFormat {
    DataType type;
    int bits;
    bool isSigned;
};
const IntFormat kIntFormats[] = {
    {DataType::kINT4, 4, true}, {DataType::kUINT4, 4, false}, {DataType::kINT2, 2, true}, {DataType::kUINT2, 2, false}};

TEST(CastLowBit, FloatsTruncateAndIntegersWrapIntoTwoAndFourBits) {
    std::vector<double> values;
    for (int v = -20; v <= 20; ++v) values.push_back(v + (v % 3) * 0.4);  // fractions truncate toward zero
    for (DataType from : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kINT16, DataType::kUINT8}) {
        std::vector<double> input = values;
        if (from == DataType::kUINT8)
            for (double& v : input) v = std::fabs(std::trunc(v));
        Tensor x = tensorOf(from, {static_cast<int64_t>(input.size())}, input);
        for (const IntFormat& f : kIntFormats) {
            SingleNodeRun run = runOp("Cast", {&x}, castTo(f.type));
            ASSERT_TRUE(run.status) << run.status.message();
            ASSERT_EQ(run.outputs[0].dtype(), f.type);
            for (int64_t i = 0; i < x.elementCount(); ++i) {
                const int64_t expected =
                    wrapped(static_cast<int64_t>(std::trunc(x.elementAsDouble(i))), f.bits, f.isSigned);
                const int8_t stored = run.outputs[0].data<int8_t>()[i];
                // Kiln's layout: signed types sign-extended, unsigned in the low bits.
                EXPECT_EQ(f.isSigned ? stored : static_cast<int64_t>(static_cast<uint8_t>(stored)), expected)
                    << dataTypeName(from) << " " << x.elementAsDouble(i) << " -> " << dataTypeName(f.type);
            }
        }
    }
}

TEST(CastLowBit, TwoAndFourBitIntegersToWiderTypes) {
    for (const IntFormat& f : kIntFormats) {
        const int count = 1 << f.bits;
        std::vector<uint8_t> codes;
        std::vector<double> values;
        for (int v = 0; v < count; ++v) {
            const int64_t value = f.isSigned ? wrapped(v, f.bits, true) : v;
            codes.push_back(static_cast<uint8_t>(static_cast<int8_t>(value)));
            values.push_back(static_cast<double>(value));
        }
        Tensor x = codesTensor(f.type, codes);
        for (DataType to : {DataType::kFLOAT, DataType::kHALF, DataType::kINT8, DataType::kUINT8, DataType::kINT64}) {
            SingleNodeRun run = runOp("Cast", {&x}, castTo(to));
            ASSERT_TRUE(run.status) << run.status.message();
            std::vector<double> expected = values;
            if (to == DataType::kUINT8)  // negative values wrap into uint8
                for (double& v : expected) v = static_cast<double>(static_cast<uint8_t>(static_cast<int>(v)));
            expectExact(run.outputs[0], expected, std::string(dataTypeName(f.type)) + " -> " + dataTypeName(to));
        }
    }
}

TEST(CastLowBit, BetweenLowBitTypes) {
    const Format& e4m3 = formats()[0];
    const Format& e5m2 = formats()[2];
    const Format& e2m1 = formats()[4];
    // e4m3fn -> e5m2 and e4m3fn -> float4e2m1 go through the exact value.
    Tensor x = codesTensor(DataType::kFP8E4M3FN, allCodes(256));
    for (const Format* to : {&e5m2, &e2m1}) {
        SingleNodeRun run = runOp("Cast", {&x}, castTo(to->type));
        ASSERT_TRUE(run.status) << run.status.message();
        for (int code = 0; code < 256; ++code)
            EXPECT_EQ(int{run.outputs[0].data<uint8_t>()[code]},
                      int{expectedCastCode(*to, referenceValue(e4m3, code), true)})
                << "e4m3fn code " << code << " -> " << dataTypeName(to->type);
    }
    // int4 -> uint2 keeps the low bits; float4e2m1 -> int4 truncates.
    Tensor ints = codesTensor(DataType::kINT4, {0xF8, 0xFF, 0x00, 0x07, 0x05});
    SingleNodeRun narrowed = runOp("Cast", {&ints}, castTo(DataType::kUINT2));
    ASSERT_TRUE(narrowed.status) << narrowed.status.message();
    expectExact(narrowed.outputs[0], {0, 3, 0, 3, 1});
    Tensor floats = codesTensor(DataType::kFP4E2M1, {0x3, 0xB, 0x7, 0xF, 0x1});  // 1.5 -1.5 6 -6 0.5
    SingleNodeRun truncated = runOp("Cast", {&floats}, castTo(DataType::kINT4));
    ASSERT_TRUE(truncated.status) << truncated.status.message();
    expectExact(truncated.outputs[0], {1, -1, 6, -6, 0});
}

TEST(CastLowBit, E8M0RoundModes) {
    Tensor x = tensorOf(DataType::kFLOAT, {8}, {1.0, 1.5, 1.25, 0.75, 3.0, 0.124, 0.0, 1e38});
    struct Mode {
        const char* name;
        std::vector<double> expected;  // the powers of two each mode picks
    };
    for (const Mode& m : {Mode{"up", {1, 2, 2, 1, 4, 0.125, std::ldexp(1.0, -127), std::ldexp(1.0, 127)}},
                          Mode{"down", {1, 1, 1, 0.5, 2, 0.0625, std::ldexp(1.0, -127), std::ldexp(1.0, 126)}},
                          Mode{"nearest", {1, 2, 1, 1, 4, 0.125, std::ldexp(1.0, -127), std::ldexp(1.0, 126)}}}) {
        AttributeMap attrs = castTo(DataType::kFP8E8M0);
        attrs.set("round_mode", std::string(m.name));
        SingleNodeRun run = runOp("Cast", {&x}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        for (int64_t i = 0; i < 8; ++i)
            EXPECT_EQ(run.outputs[0].data<uint8_t>()[i], static_cast<uint8_t>(std::ilogb(m.expected[i]) + 127))
                << m.name << " x=" << x.data<float>()[i];
    }
    // Without saturation, 0 (below 2^-127) becomes NaN (0xFF).
    AttributeMap attrs = castTo(DataType::kFP8E8M0);
    attrs.set("saturate", int64_t{0});
    attrs.set("round_mode", std::string("nearest"));
    SingleNodeRun run = runOp("Cast", {&x}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].data<uint8_t>()[6], 0xFF);
}

TEST(CastLowBit, UnknownRoundModeIsAnErrorNamingTheNode) {
    Tensor x = tensorOf(DataType::kFLOAT, {2}, {1, 2});
    AttributeMap attrs = castTo(DataType::kFP8E8M0);
    attrs.set("round_mode", std::string("sideways"));
    SingleNodeRun run = runOp("Cast", {&x}, attrs);
    ASSERT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("'node'"), std::string::npos) << run.status.message();
    EXPECT_NE(run.status.message().find("round_mode"), std::string::npos) << run.status.message();
}

TEST(CastLikeLowBit, TakesTheTargetTypeAndSaturate) {
    const Format& fnuz = formats()[1];
    const std::vector<float> values = probeValues(fnuz, 9);
    Tensor x = Tensor::allocate(DataType::kFLOAT, {static_cast<int64_t>(values.size())});
    for (size_t i = 0; i < values.size(); ++i) x.data<float>()[i] = values[i];
    Tensor like = codesTensor(DataType::kFP8E4M3FNUZ, {0});
    for (bool saturate : {true, false}) {
        AttributeMap attrs;
        attrs.set("saturate", int64_t{saturate ? 1 : 0});
        SingleNodeRun run = runOp("CastLike", {&x, &like}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        ASSERT_EQ(run.outputs[0].dtype(), DataType::kFP8E4M3FNUZ);
        for (size_t i = 0; i < values.size(); ++i)
            EXPECT_EQ(int{run.outputs[0].data<uint8_t>()[i]}, int{expectedCastCode(fnuz, values[i], saturate)})
                << values[i] << " saturate=" << saturate;
    }
    // And back: a float8 input cast like a float16 tensor.
    Tensor codes = codesTensor(DataType::kFP8E5M2, {0x3C, 0xBC, 0x7B, 0x01});  // 1 -1 57344 2^-16
    Tensor half = tensorOf(DataType::kHALF, {1}, {0});
    SingleNodeRun back = runOp("CastLike", {&codes, &half});
    ASSERT_TRUE(back.status) << back.status.message();
    EXPECT_EQ(back.outputs[0].dtype(), DataType::kHALF);
    expectExact(back.outputs[0], {1, -1, 57344, std::ldexp(1.0, -16)});
}

}  // namespace
}  // namespace kiln::test
