// QuantizeLinear and DequantizeLinear with the low-bit types (int4, uint4, int2, uint2, float8,
// float4e2m1, float8e8m0 scales) on the CPU backend, per tensor, per axis and blocked, against
// references written from the ONNX definitions (y = saturate(round(x / scale) + zero point);
// x = (y - zero point) * scale) and tests/support/low_precision_reference.h.

#include <cmath>

#include "elementwise_test_util.h"
#include "ir/onnx_types.h"
#include "low_precision_reference.h"
#include "quantization_test_util.h"
#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

/// A low-bit tensor of `shape` holding the stored bytes `codes`.
Tensor codesTensor(DataType type, const Shape& shape, const std::vector<uint8_t>& codes) {
    Tensor t = Tensor::allocate(type, shape);
    for (size_t i = 0; i < codes.size(); ++i) t.data<uint8_t>()[i] = codes[i];
    return t;
}

struct IntFormat {
    DataType type;
    int64_t lowest, highest;
};
const IntFormat kIntFormats[] = {
    {DataType::kINT4, -8, 7}, {DataType::kUINT4, 0, 15}, {DataType::kINT2, -2, 1}, {DataType::kUINT2, 0, 3}};

TEST(QuantizeLinearLowBit, ToTwoAndFourBitIntegersPerTensorPerAxisAndBlocked) {
    const Shape x{2, 6, 4};
    Tensor data = randomTensor(DataType::kFLOAT, x, -12, 12, 1);
    for (const QuantLayout& layout : quantLayoutsOf264()) {
        for (const IntFormat& f : kIntFormats) {
            Tensor scale = randomTensor(DataType::kFLOAT, layout.scaleShape, 0.5, 3, 2);
            // Zero points inside the type's range, stored in Kiln's layout.
            std::vector<uint8_t> zeroCodes;
            std::vector<double> zeros;
            for (int64_t i = 0; i < scale.elementCount(); ++i) {
                const int64_t z = f.lowest + i % (f.highest - f.lowest + 1);
                zeros.push_back(static_cast<double>(z));
                zeroCodes.push_back(static_cast<uint8_t>(static_cast<int8_t>(z)));
            }
            Tensor zero = codesTensor(f.type, layout.scaleShape, zeroCodes);
            AttributeMap attrs;
            attrs.set("axis", layout.axis);
            if (layout.block) attrs.set("block_size", layout.block);
            SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale, &zero}, attrs);
            ASSERT_TRUE(run.status) << dataTypeName(f.type) << ": " << run.status.message();
            ASSERT_EQ(run.outputs[0].dtype(), f.type);
            const size_t axis = static_cast<size_t>(layout.axis < 0 ? layout.axis + 3 : layout.axis);
            for (int64_t i = 0; i < data.elementCount(); ++i) {
                const int64_t p = scaleIndex(x, i, axis, scale.elementCount(), layout.block);
                const double q = std::nearbyint(static_cast<double>(data.data<float>()[i] / scale.data<float>()[p])) +
                                 zeros[static_cast<size_t>(p)];
                const double expected = std::clamp(q, static_cast<double>(f.lowest), static_cast<double>(f.highest));
                const int8_t stored = run.outputs[0].data<int8_t>()[i];
                const double actual = f.lowest < 0 ? stored : static_cast<uint8_t>(stored);
                EXPECT_EQ(actual, expected) << dataTypeName(f.type) << " element " << i;
            }
        }
    }
}

TEST(QuantizeLinearLowBit, OutputDtypeWithoutZeroPoint) {
    Tensor data = tensorOf(DataType::kFLOAT, {6}, {-20, -2.6, -0.5, 0.5, 2.5, 30});
    Tensor scale = Tensor::scalarFloat(0.5f);
    AttributeMap attrs;
    attrs.set("output_dtype", dataTypeToOnnx(DataType::kINT4));
    SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].dtype(), DataType::kINT4);
    // -40 -5.2 -1 1 5 60 rounded half to even and clamped to [-8, 7].
    expectExact(run.outputs[0], {-8, -5, -1, 1, 5, 7});
}

TEST(QuantizeLinearLowBit, ToFloat8AndFloat4WithAndWithoutSaturation) {
    Tensor data = randomTensor(DataType::kFLOAT, {3, 40}, -600, 600, 5);
    data.data<float>()[0] = 1e9f;
    data.data<float>()[1] = -1e9f;
    data.data<float>()[2] = 0.0f;
    Tensor scale = tensorOf(DataType::kFLOAT, {3}, {0.25, 1.0, 7.5});
    for (const Format& f : formats()) {
        Tensor zero = codesTensor(f.type, {3}, {0, 0, 0});
        for (bool saturate : {true, false}) {
            AttributeMap attrs;
            attrs.set("axis", int64_t{0});
            attrs.set("saturate", int64_t{saturate ? 1 : 0});
            SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale, &zero}, attrs);
            ASSERT_TRUE(run.status) << dataTypeName(f.type) << ": " << run.status.message();
            ASSERT_EQ(run.outputs[0].dtype(), f.type);
            for (int64_t i = 0; i < data.elementCount(); ++i) {
                const float scaled =
                    data.data<float>()[i] / scale.data<float>()[i / 40];  // float32, as ONNX's reference
                EXPECT_EQ(int{run.outputs[0].data<uint8_t>()[i]}, int{expectedCastCode(f, scaled, saturate)})
                    << dataTypeName(f.type) << " x=" << data.data<float>()[i] << " saturate=" << saturate;
            }
        }
    }
}

TEST(DequantizeLinearLowBit, FromEveryIntegerCodePerAxisWithZeroPoints) {
    for (const IntFormat& f : kIntFormats) {
        const int64_t count = f.highest - f.lowest + 1;
        std::vector<uint8_t> codes;
        std::vector<double> values;
        for (int64_t row = 0; row < 3; ++row)
            for (int64_t v = f.lowest; v <= f.highest; ++v) {
                codes.push_back(static_cast<uint8_t>(static_cast<int8_t>(v)));
                values.push_back(static_cast<double>(v));
            }
        Tensor x = codesTensor(f.type, {3, count}, codes);
        Tensor scale = tensorOf(DataType::kFLOAT, {3}, {0.5, 2.0, 0.1});
        const std::vector<int64_t> zeros = {f.lowest, f.highest, 0};
        Tensor zero = codesTensor(f.type, {3},
                                  {static_cast<uint8_t>(static_cast<int8_t>(zeros[0])),
                                   static_cast<uint8_t>(static_cast<int8_t>(zeros[1])), 0});
        AttributeMap attrs;
        attrs.set("axis", int64_t{0});
        SingleNodeRun run = runOp("DequantizeLinear", {&x, &scale, &zero}, attrs);
        ASSERT_TRUE(run.status) << run.status.message();
        ASSERT_EQ(run.outputs[0].dtype(), DataType::kFLOAT);
        std::vector<double> expected;
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            const int64_t row = i / count;
            expected.push_back(static_cast<float>(values[static_cast<size_t>(i)] -
                                                  static_cast<double>(zeros[static_cast<size_t>(row)])) *
                               scale.data<float>()[row]);
        }
        expectExact(run.outputs[0], expected, dataTypeName(f.type));
    }
}

TEST(DequantizeLinearLowBit, FromEveryFloat8AndFloat4CodeBlocked) {
    for (const Format& f : formats()) {
        const int count = 1 << (1 + f.exponentBits + f.mantissaBits);
        std::vector<uint8_t> codes;
        for (int c = 0; c < count; ++c) codes.push_back(static_cast<uint8_t>(c));
        Tensor x = codesTensor(f.type, {2, count / 2}, codes);
        const int64_t block = count / 8;  // four blocks per row
        Tensor scale = randomTensor(DataType::kFLOAT, {2, 4}, 0.25, 4, 6);
        AttributeMap attrs;
        attrs.set("axis", int64_t{1});
        attrs.set("block_size", block);
        for (DataType out : {DataType::kFLOAT, DataType::kHALF}) {
            if (out != DataType::kFLOAT) attrs.set("output_dtype", dataTypeToOnnx(out));
            SingleNodeRun run = runOp("DequantizeLinear", {&x, &scale}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            ASSERT_EQ(run.outputs[0].dtype(), out);
            std::vector<double> expected;
            for (int c = 0; c < count; ++c) {
                const int64_t row = c / (count / 2), column = c % (count / 2);
                const float y =
                    static_cast<float>(referenceValue(f, c)) * scale.data<float>()[row * 4 + column / block];
                expected.push_back(out == DataType::kHALF ? static_cast<double>(static_cast<float>(Half(y))) : y);
            }
            expectExact(run.outputs[0], expected, std::string(dataTypeName(f.type)) + " -> " + dataTypeName(out));
        }
    }
}

TEST(DequantizeLinearLowBit, Float8E8M0ScalesNeedAnOutputType) {
    Tensor x =
        codesTensor(DataType::kFP4E2M1, {2, 4}, {0x1, 0x2, 0x7, 0x9, 0x3, 0xC, 0x0, 0x5});  // 0.5 1 6 -0.5 | 1.5 -2 0 3
    Tensor scale = codesTensor(DataType::kFP8E8M0, {2, 1}, {127 + 3, 127 - 2});             // 8, 0.25
    AttributeMap attrs;
    attrs.set("axis", int64_t{1});
    attrs.set("block_size", int64_t{4});
    SingleNodeRun missing = runOp("DequantizeLinear", {&x, &scale}, attrs);
    ASSERT_FALSE(missing.status);
    EXPECT_NE(missing.status.message().find("output_dtype"), std::string::npos) << missing.status.message();

    attrs.set("output_dtype", dataTypeToOnnx(DataType::kFLOAT));
    SingleNodeRun run = runOp("DequantizeLinear", {&x, &scale}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    expectExact(run.outputs[0], {4, 8, 48, -4, 0.375, -0.5, 0, 0.75});
}

TEST(QuantizeLinearLowBit, RefusesFloat8E8M0AsTheQuantizedType) {
    Tensor data = tensorOf(DataType::kFLOAT, {2}, {1, 2});
    Tensor scale = Tensor::scalarFloat(1.0f);
    AttributeMap attrs;
    attrs.set("output_dtype", dataTypeToOnnx(DataType::kFP8E8M0));
    SingleNodeRun run = runOp("QuantizeLinear", {&data, &scale}, attrs);
    ASSERT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("float8e8m0 is not supported"), std::string::npos) << run.status.message();
}

}  // namespace
}  // namespace kiln::test
