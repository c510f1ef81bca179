// The CUDA convolutions beyond 2-D float against the CPU backend on random data: Conv with 1-D and 3-D
// windows (strides, asymmetric pads, dilations, groups, auto_pad), Conv and FusedConv on float16 and
// bfloat16 (a float16 bias or a float one), ConvTranspose with every attribute ONNX lists (1-D to 3-D,
// output_padding, output_shape, auto_pad, group, dilations), and DeformConv (offset groups, mask, bias).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backends/precision_attributes.h"
#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaConvNdTest = CudaTest;

// Float without TF32: only the summation order differs from the CPU's.
constexpr double kFloatTol = 1e-4;
// float16 inputs are exact in the float reference; the result is rounded once to float16 (2^-11 relative).
constexpr double kHalfTol = 1e-2;
// bfloat16: the CPU reference rounds to bfloat16 too; one bfloat16 step apart at most (2^-8 relative).
constexpr double kBf16Tol = 2e-2;

double toleranceOf(DataType type) {
    return type == DataType::kHALF ? kHalfTol : type == DataType::kBF16 ? kBf16Tol : type == DataType::kDOUBLE ? 1e-10 : kFloatTol;
}

struct ConvNdCase {
    Shape x;  // N C spatial...
    Shape w;  // K C/g kernel...
    int64_t group;
    std::vector<int64_t> strides, pads, dilations;
    std::string autoPad;  // "" for explicit pads
};

std::vector<ConvNdCase> convNdCases() {
    return {
        {{2, 4, 17}, {6, 2, 3}, 2, {2}, {1, 2}, {1}, ""},                                   // 1-D, groups
        {{1, 3, 20}, {5, 3, 4}, 1, {1}, {0, 0}, {3}, ""},                                   // 1-D dilated
        {{3, 2, 9}, {4, 2, 1}, 1, {1}, {0, 0}, {1}, ""},                                    // 1-D kernel 1
        {{1, 4, 11}, {4, 1, 3}, 4, {2}, {}, {1}, "SAME_UPPER"},                             // 1-D depthwise SAME
        {{1, 3, 5, 6, 7}, {4, 3, 3, 2, 3}, 1, {1, 2, 1}, {1, 0, 1, 1, 1, 0}, {1, 1, 2}, ""},  // 3-D
        {{2, 6, 4, 5, 6}, {6, 1, 3, 3, 3}, 6, {2, 1, 2}, {1, 1, 1, 1, 1, 1}, {1, 1, 1}, ""},  // 3-D depthwise
        {{1, 4, 9, 10}, {8, 4, 3, 3}, 1, {2, 2}, {}, {1, 1}, "SAME_LOWER"},                 // 2-D SAME_LOWER
    };
}

AttributeMap convNdAttrs(const ConvNdCase& c) {
    AttributeMap attrs;
    attrs.set("group", c.group);
    attrs.set("strides", c.strides);
    attrs.set("dilations", c.dilations);
    if (c.autoPad.empty()) attrs.set("pads", c.pads);
    else attrs.set("auto_pad", c.autoPad);
    attrs.set(kAllowTf32Attribute, int64_t{0});
    return attrs;
}

std::string convLabel(const char* op, const ConvNdCase& c, DataType type) {
    return std::string(op) + " " + dataTypeName(type) + " X " + shapeLabel(c.x) + " W " + shapeLabel(c.w) + " group " +
           std::to_string(c.group) + (c.autoPad.empty() ? "" : " " + c.autoPad);
}

int64_t taps(const Shape& w) {
    return shapeElementCount(Shape(w.begin() + 1, w.end()));
}

TEST_F(CudaConvNdTest, ConvOneAndThreeDimensionalMatchCpu) {
    uint32_t seed = 10;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
        for (const ConvNdCase& c : convNdCases()) {
            Tensor x = test::randomTensor(type, c.x, -1.0, 1.0, seed++);
            Tensor w = test::randomTensor(type, c.w, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(type, {c.w[0]}, -1.0, 1.0, seed++);
            const double tol = toleranceOf(type);
            const double atol = tol * std::sqrt(static_cast<double>(taps(c.w)));
            expectMatchesCpu(*mBackend, mStream, "Conv", {&x, &w, &b}, convNdAttrs(c), tol, atol,
                             convLabel("Conv", c, type));
            expectMatchesCpu(*mBackend, mStream, "Conv", {&x, &w}, convNdAttrs(c), tol, atol,
                             convLabel("Conv", c, type) + " no bias");
        }
    }
}

TEST_F(CudaConvNdTest, HalfConvTakesAFloatBias) {
    uint32_t seed = 300;
    for (const ConvNdCase& c : convNdCases()) {
        Tensor x = test::randomTensor(DataType::kHALF, c.x, -1.0, 1.0, seed++);
        Tensor w = test::randomTensor(DataType::kHALF, c.w, -1.0, 1.0, seed++);
        Tensor b = test::randomTensor(DataType::kFLOAT, {c.w[0]}, -1.0, 1.0, seed++);
        const double atol = kHalfTol * std::sqrt(static_cast<double>(taps(c.w)));
        expectMatchesCpu(*mBackend, mStream, "Conv", {&x, &w, &b}, convNdAttrs(c), kHalfTol, atol,
                         convLabel("Conv", c, DataType::kHALF) + " float bias");
    }
}

TEST_F(CudaConvNdTest, HalfFusedConvMatchesConvThenEpilogue) {
    uint32_t seed = 500;
    const std::vector<ConvNdCase> cases = {
        {{2, 8, 12, 12}, {16, 8, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, ""},
        {{1, 8, 9, 9}, {8, 1, 3, 3}, 8, {2, 2}, {1, 1, 1, 1}, {1, 1}, ""},
        {{2, 4, 17}, {6, 2, 3}, 2, {2}, {1, 2}, {1}, ""},
    };
    for (DataType type : {DataType::kHALF, DataType::kBF16}) {
        for (const ConvNdCase& c : cases) {
            for (const char* activation : {"Relu", "Sigmoid", "HardSwish"}) {
                Tensor x = test::randomTensor(type, c.x, -1.0, 1.0, seed++);
                Tensor w = test::randomTensor(type, c.w, -1.0, 1.0, seed++);
                Tensor b = test::randomTensor(type, {c.w[0]}, -1.0, 1.0, seed++);
                const Tensor xf = convertTensor(x, DataType::kFLOAT);
                const Tensor wf = convertTensor(w, DataType::kFLOAT);
                const Tensor bf = convertTensor(b, DataType::kFLOAT);
                AttributeMap attrs = convNdAttrs(c);
                std::vector<Tensor> conv = cpuReference("Conv", {&xf, &wf, &bf}, 1, attrs);
                ASSERT_EQ(conv.size(), 1u);
                const Shape& yShape = conv[0].shape();
                Tensor z = test::randomTensor(type, yShape, -1.0, 1.0, seed++);
                std::vector<double> reference = conv[0].toDoubleVector();
                const std::string a = activation;
                for (size_t i = 0; i < reference.size(); ++i) {
                    const double v = reference[i] + z.elementAsDouble(static_cast<int64_t>(i));
                    reference[i] = a == "Relu" ? std::max(v, 0.0)
                                   : a == "Sigmoid" ? 1.0 / (1.0 + std::exp(-v))
                                                    : v * std::min(1.0, std::max(0.0, v / 6.0 + 0.5));
                }
                AttributeMap fusedAttrs = attrs;
                fusedAttrs.set("activation", a);
                auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", {&x, &w, &b, &z}, {type}, {yShape}, fusedAttrs,
                                     "kiln");
                const std::string label = std::string("FusedConv ") + dataTypeName(type) + " " + a + " X " +
                                          shapeLabel(c.x) + " W " + shapeLabel(c.w);
                ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                const double tol = toleranceOf(type);
                EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, tol,
                                                     tol * std::sqrt(static_cast<double>(taps(c.w)))),
                          "")
                    << label << " (tactic " << gpu->tactic << ")";
            }
        }
    }
}

struct TransposeCase {
    Shape x;  // N C spatial...
    Shape w;  // C K/g kernel...
    AttributeMap attrs;
    std::string label;
};

std::vector<TransposeCase> transposeCases() {
    std::vector<TransposeCase> cases;
    auto add = [&](Shape x, Shape w, AttributeMap attrs, std::string label) {
        cases.push_back({std::move(x), std::move(w), std::move(attrs), std::move(label)});
    };
    AttributeMap a;
    add({1, 2, 4, 5}, {2, 3, 3, 3}, a, "2-D defaults");
    a = AttributeMap{};
    a.set("strides", std::vector<int64_t>{2, 2});
    a.set("pads", std::vector<int64_t>{1, 0, 1, 1});
    a.set("output_padding", std::vector<int64_t>{1, 0});
    add({2, 3, 4, 5}, {3, 2, 3, 3}, a, "strides, asymmetric pads, output_padding");
    a = AttributeMap{};
    a.set("strides", std::vector<int64_t>{3});
    a.set("dilations", std::vector<int64_t>{2});
    add({2, 3, 6}, {3, 2, 4}, a, "1-D dilated");
    a = AttributeMap{};
    a.set("strides", std::vector<int64_t>{1, 2, 1});
    a.set("pads", std::vector<int64_t>{0, 1, 0, 1, 0, 1});
    add({1, 2, 3, 3, 2}, {2, 2, 2, 3, 2}, a, "3-D");
    a = AttributeMap{};
    a.set("group", int64_t{2});
    a.set("strides", std::vector<int64_t>{2, 1});
    add({1, 4, 3, 3}, {4, 3, 2, 2}, a, "group 2");
    a = AttributeMap{};
    a.set("auto_pad", std::string("SAME_UPPER"));
    a.set("strides", std::vector<int64_t>{2, 2});
    add({1, 2, 3, 4}, {2, 2, 3, 3}, a, "SAME_UPPER");
    a = AttributeMap{};
    a.set("auto_pad", std::string("SAME_LOWER"));
    a.set("strides", std::vector<int64_t>{2, 3});
    add({1, 2, 3, 4}, {2, 2, 2, 4}, a, "SAME_LOWER");
    a = AttributeMap{};
    a.set("strides", std::vector<int64_t>{3, 2});
    a.set("output_shape", std::vector<int64_t>{10, 8});
    add({1, 1, 3, 3}, {1, 2, 3, 3}, a, "output_shape");
    a = AttributeMap{};
    a.set("kernel_shape", std::vector<int64_t>{3, 3});
    a.set("strides", std::vector<int64_t>{3, 2});
    a.set("output_padding", std::vector<int64_t>{1, 1});
    add({1, 1, 3, 3}, {1, 2, 3, 3}, a, "kernel_shape, output_padding");
    return cases;
}

TEST_F(CudaConvNdTest, ConvTransposeMatchesCpu) {
    uint32_t seed = 700;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        for (const TransposeCase& c : transposeCases()) {
            Tensor x = test::randomTensor(type, c.x, -1.0, 1.0, seed++);
            Tensor w = test::randomTensor(type, c.w, -1.0, 1.0, seed++);
            const int64_t group = c.attrs.getInt("group", 1);
            Tensor b = test::randomTensor(type, {c.w[1] * group}, -1.0, 1.0, seed++);
            const double tol = toleranceOf(type);
            const std::string label = "ConvTranspose " + std::string(dataTypeName(type)) + " " + c.label;
            expectMatchesCpu(*mBackend, mStream, "ConvTranspose", {&x, &w, &b}, c.attrs, tol, tol, label);
            expectMatchesCpu(*mBackend, mStream, "ConvTranspose", {&x, &w}, c.attrs, tol, tol, label + " no bias");
        }
    }
}

TEST_F(CudaConvNdTest, DeformConvMatchesCpu) {
    struct DeformCase {
        Shape x, w;
        int64_t group, offsetGroup;
        std::vector<int64_t> strides, pads, dilations;
    };
    const std::vector<DeformCase> cases = {
        {{1, 4, 5, 5}, {6, 2, 3, 3}, 2, 2, {1, 1}, {0, 0, 0, 0}, {1, 1}},
        {{2, 3, 7, 6}, {4, 3, 2, 3}, 1, 1, {2, 1}, {1, 0, 1, 1}, {1, 2}},
        {{1, 2, 9}, {3, 2, 3}, 1, 2, {1}, {1, 1}, {2}},  // 1-D
    };
    uint32_t seed = 900;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        for (const DeformCase& c : cases) {
            AttributeMap attrs;
            attrs.set("group", c.group);
            attrs.set("offset_group", c.offsetGroup);
            attrs.set("strides", c.strides);
            attrs.set("pads", c.pads);
            attrs.set("dilations", c.dilations);
            // The output extents: the plain convolution's.
            const size_t n = c.x.size() - 2;
            Shape out;
            for (size_t d = 0; d < n; ++d) {
                const int64_t effective = (c.w[2 + d] - 1) * c.dilations[d] + 1;
                out.push_back((c.x[2 + d] + c.pads[d] + c.pads[d + n] - effective) / c.strides[d] + 1);
            }
            const int64_t kernelTaps = shapeElementCount(Shape(c.w.begin() + 2, c.w.end()));
            Shape offsetShape{c.x[0], c.offsetGroup * kernelTaps * static_cast<int64_t>(n)};
            offsetShape.insert(offsetShape.end(), out.begin(), out.end());
            Shape maskShape = offsetShape;
            maskShape[1] = c.offsetGroup * kernelTaps;
            Tensor x = test::randomTensor(type, c.x, -1.0, 1.0, seed++);
            Tensor w = test::randomTensor(type, c.w, -1.0, 1.0, seed++);
            // Offsets reach past the border, so corners outside the input are exercised.
            Tensor offset = test::randomTensor(type, offsetShape, -1.7, 1.7, seed++);
            Tensor b = test::randomTensor(type, {c.w[0]}, -1.0, 1.0, seed++);
            Tensor mask = test::randomTensor(type, maskShape, 0.0, 1.0, seed++);
            const double tol = toleranceOf(type);
            const std::string label = "DeformConv " + std::string(dataTypeName(type)) + " X " + shapeLabel(c.x) +
                                      " W " + shapeLabel(c.w);
            expectMatchesCpu(*mBackend, mStream, "DeformConv", {&x, &w, &offset, &b, &mask}, attrs, tol, tol,
                             label + " bias and mask");
            expectMatchesCpu(*mBackend, mStream, "DeformConv", {&x, &w, &offset}, attrs, tol, tol, label);
            expectMatchesCpu(*mBackend, mStream, "DeformConv", {&x, &w, &offset, nullptr, &mask}, attrs, tol, tol,
                             label + " mask only");
        }
    }
}

TEST_F(CudaConvNdTest, SupportCheckRefusesWhatHasNoKernel) {
    Tensor x = test::randomTensor(DataType::kINT32, {1, 2, 5, 5}, -3.0, 3.0, 1);
    Tensor w = test::randomTensor(DataType::kINT32, {2, 2, 3, 3}, -3.0, 3.0, 2);
    auto run = runOnCuda(*mBackend, mStream, "Conv", {&x, &w}, {DataType::kINT32}, {Shape{1, 2, 3, 3}}, {});
    ASSERT_FALSE(run.isOk());
    EXPECT_NE(run.status().message().find("not supported"), std::string::npos) << run.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
