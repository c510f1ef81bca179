// The CUDA element-wise kernels on every element type they take, against the CPU backend's kernels
// on the same inputs: arithmetic (integer wrap, truncating division, both Mod forms, division by zero),
// comparisons, logic and bitwise ops, the unary math, the variadic ops, Pow's mixed types, Cast and
// CastLike between every pair (and the vectorized float/float16/bfloat16 casts with tails and
// misaligned addresses), Clip with and without bounds, Shrink, Range, Trilu, the pointwise
// activations, ConstantOfShape, EyeLike, Size, BitCast and Dropout. Integer and bool results must
// match bit for bit; float results within a tolerance of their type.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaElementwiseTypesTest = CudaTest;

const std::vector<DataType> kFloatTypes = {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16};
const std::vector<DataType> kIntegerTypes = {DataType::kINT8,  DataType::kINT16,  DataType::kINT32,  DataType::kINT64,
                                             DataType::kUINT8, DataType::kUINT16, DataType::kUINT32, DataType::kUINT64};

std::vector<DataType> numericTypes() {
    std::vector<DataType> all = kFloatTypes;
    all.insert(all.end(), kIntegerTypes.begin(), kIntegerTypes.end());
    return all;
}

template <typename T>
Tensor tensorOf(const std::vector<T>& values, const Shape& shape) {
    Tensor t = Tensor::allocate(DataTypeOf<T>::value, shape);
    std::memcpy(t.data(), values.data(), values.size() * sizeof(T));
    return t;
}

bool isFloatType(DataType t) {
    return t == DataType::kFLOAT || t == DataType::kDOUBLE || t == DataType::kHALF || t == DataType::kBF16;
}

/// float16 and bfloat16 are computed in float on both sides and rounded once; a transcendental
/// function's last-ulp difference can move that rounding by one step of the narrow type.
double toleranceOf(DataType t) {
    switch (t) {
        case DataType::kHALF: return 2e-3;
        case DataType::kBF16: return 1.6e-2;
        case DataType::kDOUBLE: return 1e-12;
        default: return 2e-6;
    }
}

/// Output 0 of `opType` on the GPU and on the CPU, both on `inputs` as they are (nullptr: an omitted
/// optional input). Non-float outputs are compared byte for byte.
void expectSameAsCpu(Backend& backend, Stream stream, const std::string& opType, const std::vector<const Tensor*>& inputs,
                     const AttributeMap& attrs, const std::string& label, double tolerance = -1) {
    std::vector<Tensor> reference = cpuReference(opType, inputs, 1, attrs);
    ASSERT_EQ(reference.size(), 1u) << label;
    const Tensor& ref = reference[0];
    auto gpu = runOnCuda(backend, stream, opType, inputs, {ref.dtype()}, {ref.shape()}, attrs);
    ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
    const Tensor& out = gpu->outputs[0];
    if (isFloatType(ref.dtype())) {
        const double tol = tolerance >= 0 ? tolerance : toleranceOf(ref.dtype());
        EXPECT_EQ(test::compareWithReference(out, ref.toDoubleVector(), tol, tol), "")
            << label << " (tactic " << gpu->tactic << ")";
        return;
    }
    ASSERT_EQ(out.byteSize(), ref.byteSize()) << label;
    const size_t size = dataTypeSize(ref.dtype());
    for (int64_t i = 0; i < ref.elementCount(); ++i) {
        const auto* a = static_cast<const uint8_t*>(out.data()) + static_cast<size_t>(i) * size;
        const auto* b = static_cast<const uint8_t*>(ref.data()) + static_cast<size_t>(i) * size;
        if (std::memcmp(a, b, size) != 0) {
            ADD_FAILURE() << label << " (tactic " << gpu->tactic << "): element " << i << " is "
                          << out.elementAsDouble(i) << ", the CPU gives " << ref.elementAsDouble(i);
            return;
        }
    }
}

const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {}}, {{}, {5}}, {{2, 1, 4}, {3, 1}}, {{4, 1, 3, 1, 2}, {1, 5, 1, 6, 2}},
    {{0, 3}, {3}},          {{257, 1031}, {1031}},
};

std::string pairLabel(const std::string& op, DataType t, const std::pair<Shape, Shape>& shapes) {
    return op + " " + dataTypeName(t) + " " + shapeLabel(shapes.first) + " with " + shapeLabel(shapes.second);
}

TEST_F(CudaElementwiseTypesTest, ArithmeticMatchesCpuOnEveryNumericType) {
    uint32_t seed = 1000;
    for (DataType type : numericTypes()) {
        const bool isFloat = isFloatType(type);
        for (const auto& shapes : kShapePairs) {
            // Integers: a small range with zeros and negatives (division by zero, both Mod signs, wrap of
            // unsigned); floats: divisors kept away from 0.
            Tensor a = test::randomTensor(type, shapes.first, isFloat ? -4.0 : -120.0, isFloat ? 4.0 : 120.0, seed++);
            Tensor b = test::randomTensor(type, shapes.second, -9.0, 9.0, seed++);
            Tensor divisor = isFloat ? test::randomTensor(type, shapes.second, 0.5, 3.0, seed++) : b;
            for (const char* op : {"Add", "Sub", "Mul"})
                expectSameAsCpu(*mBackend, mStream, op, {&a, &b}, {}, pairLabel(op, type, shapes));
            expectSameAsCpu(*mBackend, mStream, "Div", {&a, &divisor}, {}, pairLabel("Div", type, shapes));
            for (int64_t fmod : {int64_t{0}, int64_t{1}}) {
                if (isFloat && fmod == 0) continue;  // ONNX: float Mod needs fmod=1
                AttributeMap attrs;
                attrs.set("fmod", fmod);
                expectSameAsCpu(*mBackend, mStream, "Mod", {&a, &divisor}, attrs,
                                pairLabel("Mod fmod=" + std::to_string(fmod), type, shapes));
            }
        }
    }
}

TEST_F(CudaElementwiseTypesTest, IntegerEdgeCasesWrapAndTruncateAsOnTheCpu) {
    Tensor a = tensorOf<int64_t>({std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                                            -7, 7, -7, 7, (int64_t{1} << 53) + 1, 0},
                                           {8});
    Tensor b = tensorOf<int64_t>({-1, 1, 2, -2, 0, 3, (int64_t{1} << 53), -5}, {8});
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min", "Equal", "Less", "Greater"})
        expectSameAsCpu(*mBackend, mStream, op, {&a, &b}, {}, std::string(op) + " int64 edges");
    for (int64_t fmod : {int64_t{0}, int64_t{1}}) {
        AttributeMap attrs;
        attrs.set("fmod", fmod);
        expectSameAsCpu(*mBackend, mStream, "Mod", {&a, &b}, attrs, "Mod int64 edges fmod=" + std::to_string(fmod));
    }
    Tensor x = tensorOf<int8_t>({-128, 127, -5, 5, 100, -100}, {6});
    Tensor y = tensorOf<int8_t>({-1, 1, 3, -3, 100, 7}, {6});
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Mod"})
        expectSameAsCpu(*mBackend, mStream, op, {&x, &y}, {}, std::string(op) + " int8 edges");
}

TEST_F(CudaElementwiseTypesTest, ComparisonsLogicAndBitwiseMatchCpu) {
    uint32_t seed = 2000;
    std::vector<DataType> equalTypes = numericTypes();
    equalTypes.push_back(DataType::kBOOL);
    for (DataType type : equalTypes) {
        for (const auto& shapes : kShapePairs) {
            // Few distinct values, so equal pairs occur (floats are whole numbers).
            Tensor a = test::randomTensor(type, shapes.first, -3.0, 3.0, seed++);
            Tensor b = test::randomTensor(type, shapes.second, -3.0, 3.0, seed++);
            if (isFloatType(type)) {
                a = convertTensor(test::randomTensor(DataType::kINT32, shapes.first, -3.0, 3.0, seed++), type);
                b = convertTensor(test::randomTensor(DataType::kINT32, shapes.second, -3.0, 3.0, seed++), type);
            }
            expectSameAsCpu(*mBackend, mStream, "Equal", {&a, &b}, {}, pairLabel("Equal", type, shapes));
            if (type == DataType::kBOOL) {
                for (const char* op : {"And", "Or", "Xor"})
                    expectSameAsCpu(*mBackend, mStream, op, {&a, &b}, {}, pairLabel(op, type, shapes));
                expectSameAsCpu(*mBackend, mStream, "Not", {&a}, {}, pairLabel("Not", type, shapes));
                continue;
            }
            for (const char* op : {"Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
                expectSameAsCpu(*mBackend, mStream, op, {&a, &b}, {}, pairLabel(op, type, shapes));
        }
    }
    for (DataType type : kIntegerTypes) {
        for (const auto& shapes : kShapePairs) {
            Tensor a = test::randomTensor(type, shapes.first, -100.0, 100.0, seed++);
            // Shift amounts past the bit width and negative ones included.
            Tensor b = test::randomTensor(type, shapes.second, -3.0, 70.0, seed++);
            for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"})
                expectSameAsCpu(*mBackend, mStream, op, {&a, &b}, {}, pairLabel(op, type, shapes));
            expectSameAsCpu(*mBackend, mStream, "BitwiseNot", {&a}, {}, pairLabel("BitwiseNot", type, shapes));
            for (const char* direction : {"LEFT", "RIGHT"}) {
                AttributeMap attrs;
                attrs.set("direction", std::string(direction));
                expectSameAsCpu(*mBackend, mStream, "BitShift", {&a, &b}, attrs,
                                pairLabel(std::string("BitShift ") + direction, type, shapes));
            }
        }
    }
}

TEST_F(CudaElementwiseTypesTest, UnaryMathMatchesCpu) {
    uint32_t seed = 3000;
    // {8, 130}: a count of whole 16-byte packs for every type (unary_map.cuh's pack kernel); the rest odd.
    const std::vector<Shape> shapes = {{}, {7}, {3, 5, 7}, {0, 4}, {70001}, {8, 130}};
    for (DataType type : numericTypes()) {
        for (const Shape& shape : shapes) {
            Tensor x = test::randomTensor(type, shape, -100.0, 100.0, seed++);
            const std::string suffix = std::string(" ") + dataTypeName(type) + " " + shapeLabel(shape);
            for (const char* op : {"Abs", "Sign"}) expectSameAsCpu(*mBackend, mStream, op, {&x}, {}, op + suffix);
            if (type != DataType::kUINT8 && type != DataType::kUINT16 && type != DataType::kUINT32 &&
                type != DataType::kUINT64)
                expectSameAsCpu(*mBackend, mStream, "Neg", {&x}, {}, "Neg" + suffix);
        }
    }
    struct FloatCase {
        const char* op;
        double lo, hi;
    };
    const FloatCase cases[] = {
        {"Sqrt", 0.01, 9},   {"Reciprocal", 0.5, 4}, {"Exp", -5, 5},  {"Log", 0.1, 10},   {"Ceil", -5, 5},
        {"Floor", -5, 5},    {"Round", -5, 5},       {"Erf", -3, 3},  {"Sin", -3, 3},     {"Cos", -3, 3},
        {"Tan", -1.2, 1.2},  {"Asin", -0.9, 0.9},    {"Acos", -0.9, 0.9}, {"Atan", -4, 4}, {"Sinh", -3, 3},
        {"Cosh", -3, 3},     {"Asinh", -4, 4},       {"Acosh", 1.1, 5}, {"Atanh", -0.9, 0.9}, {"Gelu", -4, 4},
    };
    for (DataType type : kFloatTypes) {
        for (const FloatCase& c : cases) {
            Tensor x = test::randomTensor(type, {5, 37}, c.lo, c.hi, seed++);
            expectSameAsCpu(*mBackend, mStream, c.op, {&x}, {}, std::string(c.op) + " " + dataTypeName(type));
        }
        // Round's halves go to even.
        Tensor halves = convertTensor(tensorOf<float>({-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f}, {6}), type);
        expectSameAsCpu(*mBackend, mStream, "Round", {&halves}, {}, std::string("Round halves ") + dataTypeName(type));
        Tensor g = test::randomTensor(type, {3, 11}, -4.0, 4.0, seed++);
        AttributeMap tanhGelu;
        tanhGelu.set("approximate", std::string("tanh"));
        expectSameAsCpu(*mBackend, mStream, "Gelu", {&g}, tanhGelu, std::string("Gelu tanh ") + dataTypeName(type));

        const double inf = std::numeric_limits<double>::infinity();
        Tensor special = convertTensor(
            tensorOf<double>({1.0, -inf, inf, std::nan(""), 0.0, -2.0, inf, -inf}, {8}), type);
        expectSameAsCpu(*mBackend, mStream, "IsNaN", {&special}, {}, std::string("IsNaN ") + dataTypeName(type));
        for (int64_t negative : {int64_t{0}, int64_t{1}}) {
            for (int64_t positive : {int64_t{0}, int64_t{1}}) {
                AttributeMap attrs;
                attrs.set("detect_negative", negative);
                attrs.set("detect_positive", positive);
                expectSameAsCpu(*mBackend, mStream, "IsInf", {&special}, attrs,
                                "IsInf " + std::string(dataTypeName(type)) + " neg=" + std::to_string(negative) +
                                    " pos=" + std::to_string(positive));
            }
        }
    }
}

TEST_F(CudaElementwiseTypesTest, VariadicOpsMatchCpu) {
    uint32_t seed = 4000;
    const std::vector<std::vector<Shape>> shapeSets = {
        {{2, 3, 4}}, {{2, 3, 4}, {4}}, {{3, 1}, {1, 4}, {2, 1, 1}}, {{5}, {5}, {5}, {5}}, {{}, {2, 2}},
    };
    for (DataType type : numericTypes()) {
        for (const auto& shapes : shapeSets) {
            std::vector<Tensor> tensors;
            for (const Shape& s : shapes) tensors.push_back(test::randomTensor(type, s, -50.0, 50.0, seed++));
            std::vector<const Tensor*> inputs;
            for (const Tensor& t : tensors) inputs.push_back(&t);
            const std::string suffix = std::string(" ") + dataTypeName(type) + " of " + std::to_string(shapes.size());
            for (const char* op : {"Max", "Min"}) expectSameAsCpu(*mBackend, mStream, op, inputs, {}, op + suffix);
            if (!isFloatType(type)) continue;
            for (const char* op : {"Sum", "Mean"}) expectSameAsCpu(*mBackend, mStream, op, inputs, {}, op + suffix);
        }
    }
    // NaN propagates through Max and Min.
    Tensor a = tensorOf<float>({std::nanf(""), 1.f, 2.f}, {3});
    Tensor b = tensorOf<float>({0.f, std::nanf(""), 3.f}, {3});
    for (const char* op : {"Max", "Min"}) expectSameAsCpu(*mBackend, mStream, op, {&a, &b}, {}, std::string(op) + " NaN");
}

TEST_F(CudaElementwiseTypesTest, PowMatchesCpuForMixedBaseAndExponentTypes) {
    uint32_t seed = 5000;
    const std::vector<DataType> bases = {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF,
                                         DataType::kBF16,  DataType::kINT32,  DataType::kINT64};
    for (DataType base : bases) {
        for (DataType exponent : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kINT32,
                                  DataType::kINT64, DataType::kUINT8}) {
            const bool integerBase = !isFloatType(base);
            Tensor a = test::randomTensor(base, {4, 1, 6}, integerBase ? -6.0 : 0.5, integerBase ? 6.0 : 3.0, seed++);
            Tensor b = test::randomTensor(exponent, {5, 1}, exponent == DataType::kUINT8 ? 0.0 : -2.0, 4.0, seed++);
            // An integer base with a fractional exponent truncates; keep exponents whole there so that a
            // last-ulp difference of pow cannot move the truncation.
            if (integerBase && isFloatType(exponent))
                b = convertTensor(test::randomTensor(DataType::kINT32, {5, 1}, -2.0, 4.0, seed++), exponent);
            expectSameAsCpu(*mBackend, mStream, "Pow", {&a, &b}, {},
                            std::string("Pow ") + dataTypeName(base) + " ^ " + dataTypeName(exponent));
        }
    }
}

TEST_F(CudaElementwiseTypesTest, CastAndCastLikeMatchCpuBetweenEveryType) {
    uint32_t seed = 6000;
    std::vector<DataType> types = numericTypes();
    types.push_back(DataType::kBOOL);
    for (DataType from : types) {
        // Values beyond every integer range and NaN, where the source type has them: saturation.
        Tensor x = test::randomTensor(from, {3, 17}, -300.0, 300.0, seed++);
        if (from == DataType::kFLOAT) {
            x.data<float>()[0] = std::nanf("");
            x.data<float>()[1] = 1e20f;
            x.data<float>()[2] = -1e20f;
        }
        for (DataType to : types) {
            AttributeMap attrs;
            attrs.set("to", dataTypeToOnnx(to));
            const std::string label = std::string(dataTypeName(from)) + " -> " + dataTypeName(to);
            expectSameAsCpu(*mBackend, mStream, "Cast", {&x}, attrs, "Cast " + label, 0.0);
            const Tensor like = Tensor::allocate(to, {1});  // only its type matters
            expectSameAsCpu(*mBackend, mStream, "CastLike", {&x, &like}, {}, "CastLike " + label, 0.0);
        }
    }
}

TEST_F(CudaElementwiseTypesTest, VectorizedFloatCastsAndTheirFallbacksMatchTheHostConversion) {
    const std::vector<DataType> types = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};
    struct Case {
        Shape shape;
        size_t misalign;  // 0, 1: the input, 2: the output, one element off a 16-byte boundary
    };
    const std::vector<Case> cases = {{{256, 768}, 0}, {{4099}, 0}, {{8}, 0},    {{5}, 0},
                                     {{(1 << 16) + 3}, 0}, {{4099}, 1}, {{4096}, 2}};
    uint32_t seed = 6500;
    for (DataType from : types) {
        for (DataType to : types) {
            if (from == to) continue;
            for (const Case& c : cases) {
                Tensor x = test::randomTensor(from, c.shape, -1000.0, 1000.0, seed++);
                if (from == DataType::kFLOAT && x.elementCount() >= 5) {
                    // NaN, float16's overflow, a float16 subnormal, a tie between two float16 values (in
                    // the first pack) and one more special value in the tail.
                    float* p = x.data<float>();
                    p[0] = std::nanf("");
                    p[1] = 70000.f;
                    p[2] = 3e-6f;
                    p[3] = 1.0f + 1.0f / 2048.0f;
                    p[x.elementCount() - 1] = -1e30f;
                }
                // The host's conversion (one round-to-nearest-even through float) is the reference, exactly.
                const std::vector<double> reference = convertTensor(x, to).toDoubleVector();
                const size_t offsets[] = {0, dataTypeSize(from), dataTypeSize(to)};
                std::vector<size_t> byteOffsets;
                if (c.misalign == 1) byteOffsets = {offsets[1], 0};
                if (c.misalign == 2) byteOffsets = {0, offsets[2]};
                AttributeMap attrs;
                attrs.set("to", dataTypeToOnnx(to));
                const std::string label = std::string("Cast ") + dataTypeName(from) + " -> " + dataTypeName(to) + " " +
                                          shapeLabel(c.shape) + (c.misalign ? " misaligned" : "");
                auto gpu = runOnCuda(*mBackend, mStream, "Cast", {&x}, {to}, {c.shape}, attrs, "", byteOffsets);
                ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, 0.0, 0.0), "")
                    << label << " (tactic " << gpu->tactic << ")";
            }
        }
    }
}

TEST_F(CudaElementwiseTypesTest, ClipAndShrinkMatchCpu) {
    uint32_t seed = 7000;
    for (DataType type : numericTypes()) {
        Tensor x = test::randomTensor(type, {6, 33}, -50.0, 50.0, seed++);
        Tensor lo = test::randomTensor(type, {}, -20.0, -5.0, seed++);
        Tensor hi = test::randomTensor(type, {}, 5.0, 20.0, seed++);
        const std::string name = dataTypeName(type);
        expectSameAsCpu(*mBackend, mStream, "Clip", {&x, &lo, &hi}, {}, "Clip both " + name);
        expectSameAsCpu(*mBackend, mStream, "Clip", {&x, &lo}, {}, "Clip min " + name);
        expectSameAsCpu(*mBackend, mStream, "Clip", {&x, nullptr, &hi}, {}, "Clip max " + name);
        expectSameAsCpu(*mBackend, mStream, "Clip", {&x}, {}, "Clip none " + name);
        expectSameAsCpu(*mBackend, mStream, "Clip", {&x, &hi, &lo}, {}, "Clip min > max " + name);
        if (type == DataType::kBF16) continue;  // not a Shrink type
        AttributeMap attrs;
        attrs.set("lambd", 10.0f);
        attrs.set("bias", 2.5f);
        expectSameAsCpu(*mBackend, mStream, "Shrink", {&x}, attrs, "Shrink " + name);
        expectSameAsCpu(*mBackend, mStream, "Shrink", {&x}, {}, "Shrink defaults " + name);
    }
}

TEST_F(CudaElementwiseTypesTest, RangeAndTriluMatchCpu) {
    struct RangeCase {
        double start, limit, delta;
    };
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT16,
                          DataType::kINT32, DataType::kINT64}) {
        for (const RangeCase& c : std::vector<RangeCase>{{0, 10, 1}, {10, -3, -2}, {-5, 20000, 3}, {5, 1, 1}}) {
            Tensor start = convertTensor(tensorOf<double>({c.start}, {}), type);
            Tensor limit = convertTensor(tensorOf<double>({c.limit}, {}), type);
            Tensor delta = convertTensor(tensorOf<double>({c.delta}, {}), type);
            expectSameAsCpu(*mBackend, mStream, "Range", {&start, &limit, &delta}, {},
                            std::string("Range ") + dataTypeName(type) + " " + std::to_string(c.start) + ".." +
                                std::to_string(c.limit) + " step " + std::to_string(c.delta));
        }
    }
    Tensor fractional = tensorOf<float>({0.5f}, {});
    Tensor fractionalLimit = tensorOf<float>({7.3f}, {});
    Tensor fractionalDelta = tensorOf<float>({0.7f}, {});
    expectSameAsCpu(*mBackend, mStream, "Range", {&fractional, &fractionalLimit, &fractionalDelta}, {},
                    "Range float fractional");

    uint32_t seed = 8000;
    const std::vector<Shape> shapes = {{4, 5}, {3, 1, 6, 4}, {7, 7}, {2, 0, 3}, {1, 9}};
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kBOOL, DataType::kUINT8}) {
        for (const Shape& shape : shapes) {
            Tensor x = test::randomTensor(type, shape, 1.0, 9.0, seed++);
            for (int64_t upper : {int64_t{0}, int64_t{1}}) {
                AttributeMap attrs;
                attrs.set("upper", upper);
                const std::string label = std::string("Trilu ") + dataTypeName(type) + " " + shapeLabel(shape) +
                                          (upper ? " upper" : " lower");
                expectSameAsCpu(*mBackend, mStream, "Trilu", {&x}, attrs, label);
                for (int64_t k : {int64_t{-2}, int64_t{1}, int64_t{100}, int64_t{-100}}) {
                    Tensor kTensor = tensorOf<int64_t>({k}, {});
                    expectSameAsCpu(*mBackend, mStream, "Trilu", {&x, &kTensor}, attrs,
                                    label + " k=" + std::to_string(k));
                }
            }
        }
    }
}

TEST_F(CudaElementwiseTypesTest, PointwiseActivationsMatchCpu) {
    uint32_t seed = 9000;
    struct ActivationCase {
        const char* op;
        std::vector<std::pair<std::string, float>> attrs;
    };
    const std::vector<ActivationCase> cases = {
        {"LeakyRelu", {}},        {"LeakyRelu", {{"alpha", 0.3f}}},
        {"Elu", {}},              {"Elu", {{"alpha", 0.7f}}},
        {"Selu", {}},             {"Selu", {{"alpha", 1.2f}, {"gamma", 0.9f}}},
        {"Celu", {}},             {"Celu", {{"alpha", 2.0f}}},
        {"HardSigmoid", {}},      {"HardSigmoid", {{"alpha", 0.3f}, {"beta", 0.4f}}},
        {"HardSwish", {}},        {"Softplus", {}},
        {"Softsign", {}},         {"Mish", {}},
        {"ThresholdedRelu", {}},  {"ThresholdedRelu", {{"alpha", 2.5f}}},
    };
    for (DataType type : kFloatTypes) {
        for (const ActivationCase& c : cases) {
            // Wide enough for Softplus's large-x branch and the saturation of HardSigmoid.
            Tensor x = test::randomTensor(type, {7, 45}, -30.0, 30.0, seed++);
            AttributeMap attrs;
            std::string label = std::string(c.op) + " " + dataTypeName(type);
            for (const auto& [name, value] : c.attrs) {
                attrs.set(name, value);
                label += " " + name + "=" + std::to_string(value);
            }
            expectSameAsCpu(*mBackend, mStream, c.op, {&x}, attrs, label);
        }
    }
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16, DataType::kINT32,
                          DataType::kINT64, DataType::kUINT32, DataType::kUINT64}) {
        Tensor x = test::randomTensor(type, {2, 3, 4, 5}, -20.0, 20.0, seed++);
        for (const Shape& slopeShape : std::vector<Shape>{{}, {5}, {3, 1, 1}, {2, 3, 4, 5}}) {
            Tensor slope = test::randomTensor(type, slopeShape, -3.0, 3.0, seed++);
            expectSameAsCpu(*mBackend, mStream, "PRelu", {&x, &slope}, {},
                            std::string("PRelu ") + dataTypeName(type) + " slope " + shapeLabel(slopeShape));
        }
    }
}

TEST_F(CudaElementwiseTypesTest, ConstantOfShapeEyeLikeAndSizeMatchCpu) {
    Tensor shape = Tensor::fromInt64({2, 3, 5}, {3});
    expectSameAsCpu(*mBackend, mStream, "ConstantOfShape", {&shape}, {}, "ConstantOfShape default");
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kBOOL, DataType::kINT8}) {
        AttributeMap attrs;
        attrs.set("value", convertTensor(tensorOf<double>({-3.0}, {1}), type));
        expectSameAsCpu(*mBackend, mStream, "ConstantOfShape", {&shape}, attrs,
                        std::string("ConstantOfShape ") + dataTypeName(type));
    }
    Tensor empty = Tensor::fromInt64({4, 0}, {2});
    expectSameAsCpu(*mBackend, mStream, "ConstantOfShape", {&empty}, {}, "ConstantOfShape empty");

    uint32_t seed = 10000;
    for (const Shape& s : std::vector<Shape>{{4, 4}, {3, 7}, {6, 2}, {1, 1}}) {
        Tensor x = test::randomTensor(DataType::kFLOAT, s, -1.0, 1.0, seed++);
        for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{-2}, int64_t{9}}) {
            for (std::optional<DataType> to : {std::optional<DataType>{}, std::optional<DataType>{DataType::kINT32},
                                               std::optional<DataType>{DataType::kHALF},
                                               std::optional<DataType>{DataType::kBOOL}}) {
                AttributeMap attrs;
                attrs.set("k", k);
                if (to) attrs.set("dtype", dataTypeToOnnx(*to));
                expectSameAsCpu(*mBackend, mStream, "EyeLike", {&x}, attrs,
                                "EyeLike " + shapeLabel(s) + " k=" + std::to_string(k) + " to " +
                                    (to ? dataTypeName(*to) : "input type"));
            }
        }
        expectSameAsCpu(*mBackend, mStream, "Size", {&x}, {}, "Size " + shapeLabel(s));
    }
}

TEST_F(CudaElementwiseTypesTest, BitCastAndInferenceDropoutCopyTheirInput) {
    uint32_t seed = 11000;
    for (auto [from, to] : std::vector<std::pair<DataType, DataType>>{{DataType::kFLOAT, DataType::kINT32},
                                                                      {DataType::kINT64, DataType::kDOUBLE},
                                                                      {DataType::kHALF, DataType::kUINT16},
                                                                      {DataType::kUINT8, DataType::kINT8}}) {
        Tensor x = test::randomTensor(from, {3, 5}, -50.0, 50.0, seed++);
        AttributeMap attrs;
        attrs.set("to", dataTypeToOnnx(to));
        expectSameAsCpu(*mBackend, mStream, "BitCast", {&x}, attrs,
                        std::string("BitCast ") + dataTypeName(from) + " -> " + dataTypeName(to));
    }
    Tensor x = test::randomTensor(DataType::kFLOAT, {4, 7}, -5.0, 5.0, seed++);
    Tensor ratio = tensorOf<float>({0.5f}, {});
    expectSameAsCpu(*mBackend, mStream, "Dropout", {&x}, {}, "Dropout");
    expectSameAsCpu(*mBackend, mStream, "Dropout", {&x, &ratio}, {}, "Dropout with ratio");
    // The mask output is all true.
    std::vector<Tensor> reference = cpuReference("Dropout", {&x}, 2, {});
    ASSERT_EQ(reference.size(), 2u);
    auto gpu = runOnCuda(*mBackend, mStream, "Dropout", {&x}, {DataType::kFLOAT, DataType::kBOOL},
                         {reference[0].shape(), reference[1].shape()}, {});
    ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
    EXPECT_EQ(test::compareWithReference(gpu->outputs[1], reference[1].toDoubleVector(), 0.0, 0.0), "") << "mask";
}

}  // namespace
}  // namespace kiln::cudatest
