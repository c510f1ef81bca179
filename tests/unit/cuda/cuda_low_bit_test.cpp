// The CUDA kernels of the low-bit element types and the quantization ops against the CPU backend's
// kernels on the same random inputs: Cast and CastLike between every low-bit type (float8 x5, float4,
// int4, uint4, int2, uint2) and every element type, both ways, with saturate 0 / 1 and each float8e8m0
// round_mode; QuantizeLinear and DequantizeLinear per tensor, per axis (negative too) and blocked,
// for every quantized type, with and without zero points; DynamicQuantizeLinear; MatMulInteger,
// QLinearMatMul, ConvInteger and QLinearConv over their operand types, zero-point forms, broadcasting
// and convolution geometries. Both backends apply the same rules (common/low_precision_rules.h,
// backends/quantization_rules.h), so results must match exactly: integer and low-bit outputs byte for
// byte, float outputs value for value (NaN matching NaN).

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "common/low_precision.h"
#include "cuda_reference_outputs.h"
#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaLowBitTest = CudaTest;

const std::vector<DataType> kLowBitTypes = {
    DataType::kFP8E4M3FN, DataType::kFP8E4M3FNUZ, DataType::kFP8E5M2, DataType::kFP8E5M2FNUZ, DataType::kFP8E8M0,
    DataType::kINT4,      DataType::kUINT4,       DataType::kINT2,    DataType::kUINT2,       DataType::kFP4E2M1};
const std::vector<DataType> kComputeTypes = {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF,   DataType::kBF16,
                                             DataType::kINT8,  DataType::kINT16,  DataType::kINT32,  DataType::kINT64,
                                             DataType::kUINT8, DataType::kUINT16, DataType::kUINT32, DataType::kUINT64,
                                             DataType::kBOOL};

bool isFloating(DataType t) {
    return t == DataType::kFLOAT || t == DataType::kDOUBLE || t == DataType::kHALF || t == DataType::kBF16;
}

/// `gpu` equals `ref`: byte for byte (integer, bool and low-bit outputs: the same rules give the same
/// codes, NaN codes included), except that float outputs compare by value with their sign (any NaN
/// matches any NaN: the backends may spell NaN with different payloads).
void expectSame(const Tensor& gpu, const Tensor& ref, const std::string& label) {
    ASSERT_EQ(gpu.dtype(), ref.dtype()) << label;
    ASSERT_EQ(gpu.elementCount(), ref.elementCount()) << label;
    const size_t size = dataTypeSize(ref.dtype());
    for (int64_t i = 0; i < ref.elementCount(); ++i) {
        const double a = gpu.elementAsDouble(i), b = ref.elementAsDouble(i);
        const bool same =
            isFloating(ref.dtype())
                ? (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b))
                : std::memcmp(static_cast<const uint8_t*>(gpu.data()) + static_cast<size_t>(i) * size,
                              static_cast<const uint8_t*>(ref.data()) + static_cast<size_t>(i) * size, size) == 0;
        if (!same) {
            ADD_FAILURE() << label << ": element " << i << " is " << a << " on the GPU, " << b << " on the CPU";
            return;
        }
    }
}

/// Every output of `opType` on the GPU against the CPU backend on the same inputs.
void expectAllOutputsMatch(Backend& backend, Stream stream, const std::string& opType,
                           const std::vector<const Tensor*>& inputs, size_t numOutputs, const AttributeMap& attrs,
                           const std::string& label) {
    PairedOutputs paired = runOnCpuAndGpu(backend, stream, opType, inputs, numOutputs, attrs, label);
    for (size_t i = 0; i < paired.gpu.size(); ++i)
        expectSame(paired.gpu[i], paired.cpu[i],
                   label + " output " + std::to_string(i) + " (tactic " + paired.tactic + ")");
}

/// A low-bit tensor of random valid codes: the values of random doubles in [lo, hi) rounded into
/// `type`, plus NaN / infinity / zero codes where the type has them.
Tensor randomLowBit(DataType type, const Shape& shape, double lo, double hi, uint32_t seed) {
    Tensor t = Tensor::allocate(type, shape);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), 0.0, -0.0};
    for (int64_t i = 0; i < t.elementCount(); ++i) {
        const double v = (i % 17 == 3) ? specials[(i / 17) % 5] : dist(rng);
        t.data<uint8_t>()[i] = lowBitFromDouble(type, v, LowBitCastMode{});
    }
    return t;
}

/// A compute-type tensor with values over `type`'s whole interesting range: small fractions, values
/// past the float8 maxima, and (floats) NaN, infinities and signed zeros.
Tensor wideSource(DataType type, const Shape& shape, uint32_t seed) {
    if (!isFloating(type)) {
        const bool isUnsigned = type == DataType::kUINT8 || type == DataType::kUINT16 || type == DataType::kUINT32 ||
                                type == DataType::kUINT64 || type == DataType::kBOOL;
        return test::randomTensor(type, shape, isUnsigned ? 0 : -120, 120, seed);
    }
    Tensor t = test::randomTensor(type, shape, -1, 1, seed);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> exponent(-20, 18);
    Tensor wide = Tensor::allocate(DataType::kDOUBLE, shape);
    const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               0.0,
                               -0.0,
                               448.0,
                               464.0,
                               57344.0,
                               61440.0,
                               6.0,
                               7.0};
    for (int64_t i = 0; i < t.elementCount(); ++i) {
        const double sign = (i % 2) ? -1.0 : 1.0;
        wide.data<double>()[i] =
            (i % 13 == 5) ? specials[(i / 13) % 11] : sign * std::exp2(exponent(rng)) * (1.0 + t.elementAsDouble(i));
    }
    return convertTensor(wide, type);
}

std::string castLabel(const char* op, DataType from, DataType to, int64_t saturate, const std::string& roundMode) {
    return std::string(op) + " " + dataTypeName(from) + " -> " + dataTypeName(to) +
           " saturate=" + std::to_string(saturate) + " round_mode=" + roundMode;
}

TEST_F(CudaLowBitTest, CastBetweenEveryLowBitTypeAndEveryTypeMatchesCpu) {
    uint32_t seed = 100;
    const Shape shape{3, 5, 67};  // not a multiple of any vector width
    std::vector<DataType> targets = kComputeTypes;
    targets.insert(targets.end(), kLowBitTypes.begin(), kLowBitTypes.end());
    for (DataType lowBit : kLowBitTypes) {
        Tensor lowBitSource = randomLowBit(lowBit, shape, -500, 500, seed++);
        for (DataType other : targets) {
            Tensor otherSource = isLowBitType(other) ? randomLowBit(other, shape, -70000, 70000, seed++)
                                                     : wideSource(other, shape, seed++);
            for (int64_t saturate : {int64_t{0}, int64_t{1}}) {
                for (const std::string roundMode : {"up", "down", "nearest"}) {
                    // round_mode shapes float8e8m0 targets only; sweep it there alone.
                    if (roundMode != "up" && lowBit != DataType::kFP8E8M0 && other != DataType::kFP8E8M0) continue;
                    AttributeMap attrs;
                    attrs.set("saturate", saturate);
                    attrs.set("round_mode", roundMode);
                    AttributeMap toOther = attrs, toLowBit = attrs;
                    toOther.set("to", static_cast<int64_t>(dataTypeToOnnx(other)));
                    toLowBit.set("to", static_cast<int64_t>(dataTypeToOnnx(lowBit)));
                    expectAllOutputsMatch(*mBackend, mStream, "Cast", {&lowBitSource}, 1, toOther,
                                          castLabel("Cast", lowBit, other, saturate, roundMode));
                    expectAllOutputsMatch(*mBackend, mStream, "Cast", {&otherSource}, 1, toLowBit,
                                          castLabel("Cast", other, lowBit, saturate, roundMode));
                    // CastLike takes the target type from its second input.
                    expectAllOutputsMatch(*mBackend, mStream, "CastLike", {&otherSource, &lowBitSource}, 1, attrs,
                                          castLabel("CastLike", other, lowBit, saturate, roundMode));
                }
            }
        }
    }
}

/// A zero point of quantized type `q` with `count` entries inside q's range (0 for the float formats,
/// whose zero points ONNX fixes at 0).
Tensor zeroPointOf(DataType q, const Shape& shape, uint32_t seed) {
    if (isLowBitType(q)) {
        Tensor t = Tensor::allocate(q, shape);
        const IntegerRange r = isLowBitIntegerType(q) ? lowBitIntegerRange(q) : IntegerRange{0, 0};
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int64_t> dist(r.lowest, r.highest);
        for (int64_t i = 0; i < t.elementCount(); ++i)
            t.data<uint8_t>()[i] = lowBitFromInteger(q, dist(rng), LowBitCastMode{});
        return t;
    }
    const bool isSigned = q == DataType::kINT8 || q == DataType::kINT16;
    return test::randomTensor(q, shape, isSigned ? -20 : 0, 40, seed);
}

struct Layout {
    Shape scale;
    int64_t axis;
    int64_t block;
};
// x is {2, 6, 5}: per tensor (scalar and [1]), per axis 1, per axis -1, blocked on axis 1 (uneven
// last block) and on axis 2.
const Layout kLayouts[] = {{{}, 1, 0},        {{1}, 1, 0},       {{6}, 1, 0},      {{5}, -1, 0},
                           {{2, 3, 5}, 1, 2}, {{2, 2, 5}, 1, 4}, {{2, 6, 2}, 2, 3}};

TEST_F(CudaLowBitTest, QuantizeLinearEveryTypeAndLayoutMatchesCpu) {
    uint32_t seed = 5000;
    const Shape x{2, 6, 5};
    const std::vector<DataType> outputs = {
        DataType::kINT8,    DataType::kUINT8,       DataType::kINT16,  DataType::kUINT16,    DataType::kINT4,
        DataType::kUINT4,   DataType::kINT2,        DataType::kUINT2,  DataType::kFP8E4M3FN, DataType::kFP8E4M3FNUZ,
        DataType::kFP8E5M2, DataType::kFP8E5M2FNUZ, DataType::kFP4E2M1};
    for (DataType xType : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT32}) {
        Tensor data = test::randomTensor(xType, x, -300, 300, seed++);
        for (DataType q : outputs) {
            for (const Layout& layout : kLayouts) {
                // Scales small enough that x / scale passes every type's range, so saturation shows.
                const DataType scaleType = xType == DataType::kINT32 ? DataType::kFLOAT : xType;
                Tensor scale = test::randomTensor(scaleType, layout.scale, 0.01, 2, seed++);
                Tensor zero = zeroPointOf(q, layout.scale, seed++);
                for (int64_t saturate : {int64_t{0}, int64_t{1}}) {
                    AttributeMap attrs;
                    attrs.set("axis", layout.axis);
                    if (layout.block) attrs.set("block_size", layout.block);
                    attrs.set("saturate", saturate);
                    const std::string label = std::string("QuantizeLinear ") + dataTypeName(xType) + " -> " +
                                              dataTypeName(q) + " scale " + shapeLabel(layout.scale) + " axis " +
                                              std::to_string(layout.axis) + " block " + std::to_string(layout.block) +
                                              " saturate " + std::to_string(saturate);
                    expectAllOutputsMatch(*mBackend, mStream, "QuantizeLinear", {&data, &scale, &zero}, 1, attrs,
                                          label);
                    if (q == DataType::kUINT8) {  // no zero point: uint8
                        expectAllOutputsMatch(*mBackend, mStream, "QuantizeLinear", {&data, &scale}, 1, attrs,
                                              label + " without zero point");
                    }
                    if (!isLowBitType(q) || isLowBitIntegerType(q)) break;  // saturate shapes the float formats only
                }
            }
        }
    }
}

TEST_F(CudaLowBitTest, QuantizeLinearWithOutputDtypeAndE8M0ScaleMatchesCpu) {
    const Shape x{4, 8};
    Tensor data = test::randomTensor(DataType::kFLOAT, x, -50, 50, 77);
    Tensor scale = Tensor::allocate(DataType::kFP8E8M0, {4, 2});
    for (int64_t i = 0; i < scale.elementCount(); ++i)
        scale.data<uint8_t>()[i] = static_cast<uint8_t>(124 + i % 5);  // 2^-3 .. 2^1
    for (DataType q : {DataType::kFP8E4M3FN, DataType::kFP4E2M1, DataType::kINT4, DataType::kUINT8}) {
        AttributeMap attrs;
        attrs.set("axis", int64_t{1});
        attrs.set("block_size", int64_t{4});
        attrs.set("output_dtype", static_cast<int64_t>(dataTypeToOnnx(q)));
        expectAllOutputsMatch(*mBackend, mStream, "QuantizeLinear", {&data, &scale}, 1, attrs,
                              std::string("QuantizeLinear e8m0 scale, output_dtype ") + dataTypeName(q));
    }
}

TEST_F(CudaLowBitTest, DequantizeLinearEveryTypeAndLayoutMatchesCpu) {
    uint32_t seed = 9000;
    const Shape x{2, 6, 5};
    const std::vector<DataType> inputs = {
        DataType::kINT8,        DataType::kUINT8,   DataType::kINT16,       DataType::kUINT16, DataType::kINT32,
        DataType::kINT4,        DataType::kUINT4,   DataType::kINT2,        DataType::kUINT2,  DataType::kFP8E4M3FN,
        DataType::kFP8E4M3FNUZ, DataType::kFP8E5M2, DataType::kFP8E5M2FNUZ, DataType::kFP4E2M1};
    for (DataType q : inputs) {
        Tensor data =
            isLowBitType(q) ? randomLowBit(q, x, -300, 300, seed++) : test::randomTensor(q, x, -3000, 3000, seed++);
        for (DataType scaleType : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
            for (const Layout& layout : kLayouts) {
                Tensor scale = test::randomTensor(scaleType, layout.scale, 0.01, 2, seed++);
                const std::string label = std::string("DequantizeLinear ") + dataTypeName(q) + " scale " +
                                          dataTypeName(scaleType) + " " + shapeLabel(layout.scale) + " axis " +
                                          std::to_string(layout.axis) + " block " + std::to_string(layout.block);
                AttributeMap attrs;
                attrs.set("axis", layout.axis);
                if (layout.block) attrs.set("block_size", layout.block);
                expectAllOutputsMatch(*mBackend, mStream, "DequantizeLinear", {&data, &scale}, 1, attrs, label);
                if (q != DataType::kINT32) {  // int32 takes no zero point
                    Tensor zero = zeroPointOf(q, layout.scale, seed++);
                    expectAllOutputsMatch(*mBackend, mStream, "DequantizeLinear", {&data, &scale, &zero}, 1, attrs,
                                          label + " with zero point");
                }
                if (scaleType == DataType::kFLOAT) {  // output_dtype other than the scale's type
                    AttributeMap toHalf = attrs;
                    toHalf.set("output_dtype", static_cast<int64_t>(dataTypeToOnnx(DataType::kHALF)));
                    expectAllOutputsMatch(*mBackend, mStream, "DequantizeLinear", {&data, &scale}, 1, toHalf,
                                          label + " output_dtype float16");
                }
            }
        }
    }
}

TEST_F(CudaLowBitTest, DynamicQuantizeLinearMatchesCpu) {
    uint32_t seed = 300;
    for (const auto& range : std::vector<std::pair<double, double>>{{-4, 9}, {1, 7}, {-8, -2}, {0, 0}})
        for (const Shape& shape : {Shape{7}, Shape{3, 4, 5}, Shape{1031, 257}, Shape{0}}) {
            Tensor x = test::randomTensor(DataType::kFLOAT, shape, range.first, range.second, seed++);
            expectAllOutputsMatch(*mBackend, mStream, "DynamicQuantizeLinear", {&x}, 3, {},
                                  "DynamicQuantizeLinear " + shapeLabel(shape) + " in [" + std::to_string(range.first) +
                                      ", " + std::to_string(range.second) + ")");
        }
}

Tensor byteInteger(DataType t, const Shape& shape, uint32_t seed) {
    return test::randomTensor(t, shape, t == DataType::kINT8 ? -128 : 0, t == DataType::kINT8 ? 128 : 256, seed);
}

TEST_F(CudaLowBitTest, MatMulIntegerAndQLinearMatMulMatchCpu) {
    uint32_t seed = 700;
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{5, 7}, {7, 3}}, {{2, 3, 4}, {4, 6}}, {{2, 1, 3, 4}, {5, 4, 2}},
        {{7}, {7, 4}},    {{3, 7}, {7}},       {{64, 300}, {300, 33}}};
    for (DataType aType : {DataType::kINT8, DataType::kUINT8})
        for (DataType bType : {DataType::kINT8, DataType::kUINT8})
            for (const auto& [aShape, bShape] : shapes) {
                Tensor a = byteInteger(aType, aShape, seed++), b = byteInteger(bType, bShape, seed++);
                const int64_t m = aShape.size() == 1 ? 1 : aShape[aShape.size() - 2];
                const int64_t n = bShape.size() == 1 ? 1 : bShape.back();
                const std::string label = std::string(dataTypeName(aType)) + " x " + dataTypeName(bType) + " " +
                                          shapeLabel(aShape) + " x " + shapeLabel(bShape);
                expectAllOutputsMatch(*mBackend, mStream, "MatMulInteger", {&a, &b}, 1, {}, "MatMulInteger " + label);
                Tensor az = byteInteger(aType, {}, seed++), bz = byteInteger(bType, {}, seed++);
                expectAllOutputsMatch(*mBackend, mStream, "MatMulInteger", {&a, &b, &az, &bz}, 1, {},
                                      "MatMulInteger scalar zero points " + label);
                if (aShape.size() == 2 && bShape.size() == 2) {
                    Tensor azRow = byteInteger(aType, {m}, seed++), bzColumn = byteInteger(bType, {n}, seed++);
                    expectAllOutputsMatch(*mBackend, mStream, "MatMulInteger", {&a, &b, &azRow, &bzColumn}, 1, {},
                                          "MatMulInteger per-row / per-column zero points " + label);
                }
                for (DataType scaleType : {DataType::kFLOAT, DataType::kHALF}) {
                    Tensor as = test::randomTensor(scaleType, {}, 0.001, 0.05, seed++);
                    Tensor bs = test::randomTensor(scaleType, {}, 0.001, 0.05, seed++);
                    Tensor ys = test::randomTensor(scaleType, {}, 0.01, 0.5, seed++);
                    for (DataType yType : {DataType::kINT8, DataType::kUINT8}) {
                        Tensor yz = byteInteger(yType, {}, seed++);
                        expectAllOutputsMatch(*mBackend, mStream, "QLinearMatMul",
                                              {&a, &as, &az, &b, &bs, &bz, &ys, &yz}, 1, {},
                                              std::string("QLinearMatMul -> ") + dataTypeName(yType) + " " + label);
                    }
                }
            }
}

TEST_F(CudaLowBitTest, ConvIntegerAndQLinearConvMatchCpu) {
    uint32_t seed = 1300;
    struct ConvCase {
        Shape x, w;
        AttributeMap attrs;
        std::string label;
    };
    std::vector<ConvCase> cases;
    cases.push_back({{1, 2, 9}, {3, 2, 3}, {}, "1-d"});
    {
        AttributeMap a;
        a.set("pads", std::vector<int64_t>{1, 2, 1, 0});
        a.set("strides", std::vector<int64_t>{2, 1});
        a.set("dilations", std::vector<int64_t>{1, 2});
        a.set("group", int64_t{2});
        cases.push_back({{2, 4, 7, 8}, {6, 2, 3, 2}, a, "2-d groups 2, pads, strides, dilations"});
    }
    {
        AttributeMap a;
        a.set("auto_pad", std::string("SAME_UPPER"));
        a.set("strides", std::vector<int64_t>{2, 2});
        cases.push_back({{1, 3, 9, 10}, {4, 3, 3, 3}, a, "2-d SAME_UPPER stride 2"});
    }
    {
        AttributeMap a;
        a.set("group", int64_t{3});
        cases.push_back({{1, 3, 4, 5, 6}, {3, 1, 2, 2, 3}, a, "3-d depthwise"});
    }
    for (const ConvCase& c : cases) {
        for (DataType xType : {DataType::kINT8, DataType::kUINT8})
            for (DataType wType : {DataType::kINT8, DataType::kUINT8}) {
                Tensor x = byteInteger(xType, c.x, seed++), w = byteInteger(wType, c.w, seed++);
                const std::string label = c.label + " " + dataTypeName(xType) + " * " + dataTypeName(wType);
                expectAllOutputsMatch(*mBackend, mStream, "ConvInteger", {&x, &w}, 1, c.attrs, "ConvInteger " + label);
                Tensor xz = byteInteger(xType, {}, seed++);
                Tensor wz = byteInteger(wType, {c.w[0]}, seed++);
                expectAllOutputsMatch(*mBackend, mStream, "ConvInteger", {&x, &w, &xz, &wz}, 1, c.attrs,
                                      "ConvInteger per-channel zero points " + label);
                Tensor xs = test::randomTensor(DataType::kFLOAT, {}, 0.005, 0.05, seed++);
                Tensor ws = test::randomTensor(DataType::kFLOAT, {c.w[0]}, 0.005, 0.05, seed++);
                Tensor ys = test::randomTensor(DataType::kFLOAT, {}, 0.05, 0.5, seed++);
                Tensor bias = test::randomTensor(DataType::kINT32, {c.w[0]}, -2000, 2000, seed++);
                for (DataType yType : {DataType::kINT8, DataType::kUINT8}) {
                    Tensor yz = byteInteger(yType, {}, seed++);
                    expectAllOutputsMatch(*mBackend, mStream, "QLinearConv", {&x, &xs, &xz, &w, &ws, &wz, &ys, &yz}, 1,
                                          c.attrs, std::string("QLinearConv -> ") + dataTypeName(yType) + " " + label);
                    expectAllOutputsMatch(*mBackend, mStream, "QLinearConv",
                                          {&x, &xs, &xz, &w, &ws, &wz, &ys, &yz, &bias}, 1, c.attrs,
                                          std::string("QLinearConv with bias -> ") + dataTypeName(yType) + " " + label);
                }
            }
    }
}

TEST_F(CudaLowBitTest, QuantizeLinearPrecisionMatchesCpu) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {3, 40}, -100, 100, 11);
    Tensor scale = test::randomTensor(DataType::kFLOAT, {40}, 0.003, 0.7, 12);
    for (DataType precision : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16})
        for (DataType q : {DataType::kINT8, DataType::kFP8E4M3FN, DataType::kUINT4}) {
            AttributeMap attrs;
            attrs.set("precision", static_cast<int64_t>(dataTypeToOnnx(precision)));
            attrs.set("output_dtype", static_cast<int64_t>(dataTypeToOnnx(q)));
            expectAllOutputsMatch(
                *mBackend, mStream, "QuantizeLinear", {&x, &scale}, 1, attrs,
                std::string("QuantizeLinear precision ") + dataTypeName(precision) + " -> " + dataTypeName(q));
        }
}

TEST_F(CudaLowBitTest, UnsupportedFormsAreRefusedWithAReason) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {4}, -1, 1, 1);
    Tensor scale = test::randomTensor(DataType::kFLOAT, {}, 0.1, 1, 2);
    AttributeMap attrs;
    attrs.set("precision", static_cast<int64_t>(dataTypeToOnnx(DataType::kINT8)));
    auto run = runOnCuda(*mBackend, mStream, "QuantizeLinear", {&x, &scale}, {DataType::kUINT8}, {Shape{4}}, attrs);
    ASSERT_FALSE(run.isOk());
    EXPECT_NE(run.status().message().find("precision"), std::string::npos) << run.status().message();
    // A kernel without low-bit support is still refused for a low-bit tensor, naming the type.
    Tensor f8 = randomLowBit(DataType::kFP8E4M3FN, {4}, -1, 1, 3);
    auto relu = runOnCuda(*mBackend, mStream, "Relu", {&f8}, {DataType::kFP8E4M3FN}, {Shape{4}}, {});
    ASSERT_FALSE(relu.isOk());
    EXPECT_NE(relu.status().message().find("float8e4m3fn"), std::string::npos) << relu.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
