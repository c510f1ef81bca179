// The cuDNN convolutions (Conv, kiln::FusedConv) against the CPU backend's Conv on random data: strides,
// asymmetric pads, dilations, groups and depthwise, 1x1 and 7x7 kernels; FusedConv's bias, residual and
// activations checked against the CPU Conv followed by the epilogue computed here in double. Also the
// pooling kernels (MaxPool, AveragePool, GlobalAveragePool).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backends/precision_attributes.h"
#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaConvTest = CudaTest;

// FP32 convolution (no TF32): the GPU sums the products in another order than the CPU's im2col GEMM;
// relative to the magnitude of a sum of C*R*S products of values in [-1, 1].
constexpr double kConvRtol = 1e-4;
constexpr double kConvAtol = 1e-4;
// TF32 rounds the inputs to 10 mantissa bits: errors of ~1e-3 relative to each product.
constexpr double kTf32Rtol = 5e-3;
constexpr double kTf32Atol = 5e-3;

struct ConvCase {
    Shape x;  // N C H W
    Shape w;  // K C/g R S
    int64_t group;
    std::vector<int64_t> strides, pads, dilations;
};

std::vector<ConvCase> convCases() {
    return {
        {{1, 3, 9, 9}, {4, 3, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},          // same padding
        {{2, 8, 16, 12}, {16, 8, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},      // 1x1
        {{1, 3, 31, 29}, {8, 3, 7, 7}, 1, {2, 2}, {3, 3, 3, 3}, {1, 1}},       // ResNet stem
        {{2, 6, 10, 11}, {6, 1, 3, 3}, 6, {1, 1}, {1, 1, 1, 1}, {1, 1}},       // depthwise
        {{1, 8, 13, 13}, {8, 1, 3, 3}, 8, {2, 2}, {1, 1, 1, 1}, {1, 1}},       // depthwise strided
        {{1, 8, 12, 12}, {6, 4, 3, 3}, 2, {1, 2}, {0, 1, 2, 0}, {1, 1}},       // groups, asymmetric pads
        {{1, 4, 15, 15}, {5, 4, 3, 3}, 1, {1, 1}, {2, 2, 2, 2}, {2, 2}},       // dilation
        {{3, 16, 7, 7}, {32, 16, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},      // batch 3
    };
}

AttributeMap convAttrs(const ConvCase& c, bool allowTf32) {
    AttributeMap attrs;
    attrs.set("group", c.group);
    attrs.set("strides", c.strides);
    attrs.set("pads", c.pads);
    attrs.set("dilations", c.dilations);
    if (!allowTf32) attrs.set(kAllowTf32Attribute, int64_t{0});
    return attrs;
}

TEST_F(CudaConvTest, ConvMatchesCpu) {
    uint32_t seed = 10;
    for (bool allowTf32 : {false, true}) {
        for (const ConvCase& c : convCases()) {
            Tensor x = test::randomTensor(DataType::kFLOAT, c.x, -1.0, 1.0, seed++);
            Tensor w = test::randomTensor(DataType::kFLOAT, c.w, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(DataType::kFLOAT, {c.w[0]}, -1.0, 1.0, seed++);
            AttributeMap attrs = convAttrs(c, allowTf32);
            const double rtol = allowTf32 ? kTf32Rtol : kConvRtol;
            const double atol = (allowTf32 ? kTf32Atol : kConvAtol) * static_cast<double>(c.w[1] * c.w[2] * c.w[3]);
            const std::string label = "Conv X " + shapeLabel(c.x) + " W " + shapeLabel(c.w) + " group " +
                                      std::to_string(c.group) + (allowTf32 ? " tf32" : " fp32");
            expectMatchesCpu(*mBackend, mStream, "Conv", {&x, &w, &b}, attrs, rtol, atol, label);
            expectMatchesCpu(*mBackend, mStream, "Conv", {&x, &w}, attrs, rtol, atol, label + " no bias");
        }
    }
}

struct Epilogue {
    const char* activation;  // nullptr: none
    std::vector<float> params;
    double apply(double v) const {
        if (!activation) return v;
        const std::string a = activation;
        if (a == "Relu") return std::max(v, 0.0);
        if (a == "Clip") return std::min(std::max(v, static_cast<double>(params[0])), static_cast<double>(params[1]));
        if (a == "LeakyRelu") return v >= 0 ? v : params[0] * v;
        if (a == "Sigmoid") return 1.0 / (1.0 + std::exp(-v));
        if (a == "Tanh") return std::tanh(v);
        if (a == "HardSwish") return v * std::min(1.0, std::max(0.0, v / 6.0 + 0.5));
        if (a == "Gelu") return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        ADD_FAILURE() << "no reference for " << a;
        return v;
    }
};

TEST_F(CudaConvTest, FusedConvMatchesConvThenEpilogue) {
    const std::vector<Epilogue> epilogues = {{nullptr, {}},      {"Relu", {}},      {"Clip", {0.f, 6.f}},
                                             {"LeakyRelu", {0.1f}}, {"Sigmoid", {}}, {"Tanh", {}},
                                             {"HardSwish", {}},  {"Gelu", {}}};
    uint32_t seed = 1000;
    for (const Epilogue& e : epilogues) {
        for (bool residual : {false, true}) {
            for (const ConvCase& c : convCases()) {
                Tensor x = test::randomTensor(DataType::kFLOAT, c.x, -1.0, 1.0, seed++);
                Tensor w = test::randomTensor(DataType::kFLOAT, c.w, -1.0, 1.0, seed++);
                Tensor b = test::randomTensor(DataType::kFLOAT, {c.w[0]}, -1.0, 1.0, seed++);
                AttributeMap attrs = convAttrs(c, false);
                std::vector<Tensor> conv = cpuReference("Conv", {&x, &w}, 1, attrs);
                ASSERT_EQ(conv.size(), 1u);
                const Shape& yShape = conv[0].shape();
                Tensor z = test::randomTensor(DataType::kFLOAT, yShape, -1.0, 1.0, seed++);
                // The reference: conv + bias[c] + z, then the activation, in double.
                std::vector<double> reference = conv[0].toDoubleVector();
                const int64_t inner = yShape[2] * yShape[3];
                for (size_t i = 0; i < reference.size(); ++i) {
                    double v = reference[i] + b.elementAsDouble(static_cast<int64_t>(i) / inner % yShape[1]);
                    if (residual) v += z.elementAsDouble(static_cast<int64_t>(i));
                    reference[i] = e.apply(v);
                }
                AttributeMap fusedAttrs = attrs;
                if (e.activation) fusedAttrs.set("activation", std::string(e.activation));
                if (!e.params.empty()) fusedAttrs.set("activation_params", e.params);
                std::vector<const Tensor*> inputs = {&x, &w, &b};
                if (residual) inputs.push_back(&z);
                auto gpu = runOnCuda(*mBackend, mStream, "FusedConv", inputs, {DataType::kFLOAT}, {yShape}, fusedAttrs,
                                     "kiln");
                const std::string label = std::string("FusedConv ") + (e.activation ? e.activation : "none") +
                                          (residual ? " +residual" : "") + " X " + shapeLabel(c.x) + " W " +
                                          shapeLabel(c.w);
                ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                const double atol = kConvAtol * static_cast<double>(c.w[1] * c.w[2] * c.w[3]);
                EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, kConvRtol, atol), "")
                    << label << " (tactic " << gpu->tactic << ")";
            }
        }
    }
}

TEST_F(CudaConvTest, PoolingMatchesCpu) {
    struct PoolCase {
        const char* op;
        Shape x;
        std::vector<int64_t> kernel, strides, pads;
        int64_t ceilMode;
        int64_t countIncludePad;
    };
    const std::vector<PoolCase> cases = {
        {"MaxPool", {1, 4, 112, 112}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 0, 0},  // ResNet-50's
        {"MaxPool", {2, 3, 9, 10}, {2, 3}, {2, 1}, {0, 1, 1, 0}, 1, 0},
        {"AveragePool", {2, 3, 9, 10}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 0, 0},
        {"AveragePool", {2, 3, 9, 10}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 0, 1},
        {"AveragePool", {1, 5, 8, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 1, 0},
    };
    uint32_t seed = 2000;
    for (const PoolCase& c : cases) {
        Tensor x = test::randomTensor(DataType::kFLOAT, c.x, -3.0, 3.0, seed++);
        AttributeMap attrs;
        attrs.set("kernel_shape", c.kernel);
        attrs.set("strides", c.strides);
        attrs.set("pads", c.pads);
        attrs.set("ceil_mode", c.ceilMode);
        if (std::string(c.op) == "AveragePool") attrs.set("count_include_pad", c.countIncludePad);
        expectMatchesCpu(*mBackend, mStream, c.op, {&x}, attrs, 1e-5, 1e-6,
                         std::string(c.op) + " " + shapeLabel(c.x) + " count_include_pad " +
                             std::to_string(c.countIncludePad));
    }
    for (const Shape& shape : {Shape{2, 2048, 7, 7}, Shape{1, 3, 1, 1}, Shape{3, 5, 33, 17}}) {
        Tensor x = test::randomTensor(DataType::kFLOAT, shape, -3.0, 3.0, seed++);
        expectMatchesCpu(*mBackend, mStream, "GlobalAveragePool", {&x}, {}, 1e-5, 1e-6,
                         "GlobalAveragePool " + shapeLabel(shape));
        expectMatchesCpu(*mBackend, mStream, "GlobalMaxPool", {&x}, {}, 0.0, 0.0, "GlobalMaxPool " + shapeLabel(shape));
    }
}

}  // namespace
}  // namespace kiln::cudatest
