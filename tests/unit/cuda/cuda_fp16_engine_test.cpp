// Weakly typed FP16 engines on the GPU (BuilderFlag::kFP16, `--fp16`): a transformer-style block
// (GEMM + bias + GELU, GEMM + bias, residual, LayerNormalization, Softmax) and a small CNN (convolution
// + ReLU, global pooling, a classifier) and a pooler (ONNX Gemm with transB, bias and Tanh, which the
// builder makes one fused product) built with FP16 allowed must run their layers in FP16 where
// the CUDA backend has FP16 kernels, keep FP32 engine inputs and outputs, and match a double-precision
// reference within FP16's tolerance (issue #5: 2e-2 relative).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "engine_runner.h"
#include "kiln/kiln.h"

namespace kiln::cudatest {
namespace {

constexpr int64_t kBatch = 4, kModel = 32, kHidden = 64;
constexpr float kEpsilon = 1e-5f;

ITensor* constant(NetworkDefinition& net, const Tensor& t) {
    Dims dims;
    for (int64_t d : t.shape()) dims.d[dims.nbDims++] = d;
    return net.addConstant(dims, DataType::kFLOAT, t.data());
}

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

/// rows x cols (row-major) times cols x n.
std::vector<double> product(const std::vector<double>& a, int64_t rows, int64_t cols, const Tensor& w, const Tensor& b) {
    const int64_t n = w.shape()[1];
    std::vector<double> y(static_cast<size_t>(rows * n));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n; ++j) {
            double sum = b.data<float>()[j];
            for (int64_t k = 0; k < cols; ++k) sum += a[static_cast<size_t>(r * cols + k)] * w.data<float>()[k * n + j];
            y[static_cast<size_t>(r * n + j)] = sum;
        }
    return y;
}

void layerNormSoftmaxRows(std::vector<double>& v, int64_t rows, int64_t cols, const Tensor& gamma, const Tensor& beta) {
    for (int64_t r = 0; r < rows; ++r) {
        double* row = v.data() + r * cols;
        double mean = 0, variance = 0;
        for (int64_t c = 0; c < cols; ++c) mean += row[c] / static_cast<double>(cols);
        for (int64_t c = 0; c < cols; ++c) variance += (row[c] - mean) * (row[c] - mean) / static_cast<double>(cols);
        double top = -INFINITY, total = 0;
        for (int64_t c = 0; c < cols; ++c) {
            row[c] = (row[c] - mean) / std::sqrt(variance + kEpsilon) * gamma.data<float>()[c] + beta.data<float>()[c];
            top = std::max(top, row[c]);
        }
        for (int64_t c = 0; c < cols; ++c) total += row[c] = std::exp(row[c] - top);
        for (int64_t c = 0; c < cols; ++c) row[c] /= total;
    }
}

/// Builds with FP16 allowed and runs once on the GPU; returns the output and the layer JSON.
struct Fp16Run {
    Tensor y;
    std::string layers;
};

Fp16Run buildAndRunFp16(Backend& backend, Stream stream, NetworkDefinition& net, Builder& builder, const Tensor& x,
                        ILogger& logger, Dims outputDims) {
    auto config = builder.createBuilderConfig();
    config->setDefaultDeviceType(DeviceType::kGPU);
    config->setFlag(BuilderFlag::kFP16);
    auto plan = builder.buildSerializedNetwork(net, *config);
    EXPECT_NE(plan, nullptr);
    if (!plan) return {};
    auto engine = createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    EXPECT_NE(engine, nullptr);
    if (!engine) return {};
    auto context = engine->createExecutionContext();
    Shape outShape(outputDims.d, outputDims.d + outputDims.nbDims);
    Fp16Run run{Tensor::allocate(DataType::kFLOAT, outShape), engine->getLayerInformationJson()};
    DeviceBuffer in(backend, x.byteSize()), out(backend, run.y.byteSize());
    EXPECT_TRUE(backend.copyToDevice(in.get(), x.data(), x.byteSize(), stream).isOk());
    EXPECT_TRUE(context->setTensorAddress("x", in.get()));
    EXPECT_TRUE(context->setTensorAddress("y", out.get()));
    EXPECT_TRUE(context->enqueue(stream));
    EXPECT_TRUE(backend.copyToHost(run.y.data(), out.get(), run.y.byteSize(), stream).isOk());
    EXPECT_TRUE(backend.synchronize(stream).isOk());
    return run;
}

/// Layers whose "Precision" is float16 in the engine's layer JSON.
size_t fp16Layers(const std::string& json) {
    static const std::regex kPrecision("\"Precision\":\\s*\"float16\"");
    return static_cast<size_t>(std::distance(std::sregex_iterator(json.begin(), json.end(), kPrecision), std::sregex_iterator()));
}

class CudaFp16EngineTest : public CudaTest {
protected:
    test::CapturingLogger mLogger;
    std::unique_ptr<Builder> mBuilder = createBuilder(mLogger);
    std::unique_ptr<NetworkDefinition> mNet = mBuilder->createNetwork();
};

TEST_F(CudaFp16EngineTest, ATransformerBlockRunsInFp16WithinItsTolerance) {
    Tensor w1 = test::randomTensor(DataType::kFLOAT, {kModel, kHidden}, -0.3, 0.3, 1);
    Tensor b1 = test::randomTensor(DataType::kFLOAT, {kHidden}, -0.2, 0.2, 2);
    Tensor w2 = test::randomTensor(DataType::kFLOAT, {kHidden, kModel}, -0.3, 0.3, 3);
    Tensor b2 = test::randomTensor(DataType::kFLOAT, {kModel}, -0.2, 0.2, 4);
    Tensor gamma = test::randomTensor(DataType::kFLOAT, {kModel}, 0.5, 1.5, 5);
    Tensor beta = test::randomTensor(DataType::kFLOAT, {kModel}, -0.3, 0.3, 6);
    Tensor x = test::randomTensor(DataType::kFLOAT, {kBatch, kModel}, -1, 1, 7);

    NetworkDefinition& net = *mNet;
    ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{kBatch, kModel});
    ITensor* h = net.addMatrixMultiply(*in, *constant(net, w1))->getOutput(0);
    h = net.addElementWise(*h, *constant(net, b1), ElementWiseOperation::kSUM)->getOutput(0);
    h = net.addLayer("Gelu", {h}, 1, LayerAttributes())->getOutput(0);
    h = net.addMatrixMultiply(*h, *constant(net, w2))->getOutput(0);
    h = net.addElementWise(*h, *constant(net, b2), ElementWiseOperation::kSUM)->getOutput(0);
    h = net.addElementWise(*h, *in, ElementWiseOperation::kSUM)->getOutput(0);
    h = net.addLayer("LayerNormalization", {h, constant(net, gamma), constant(net, beta)}, 1,
                     LayerAttributes().setInt("axis", -1).setFloat("epsilon", kEpsilon))
            ->getOutput(0);
    ITensor* y = net.addSoftMax(*h, -1)->getOutput(0);
    y->setName("y");
    net.markOutput(*y);

    Fp16Run run = buildAndRunFp16(*mBackend, mStream, net, *mBuilder, x, mLogger, Dims{kBatch, kModel});
    ASSERT_FALSE(run.layers.empty());
    // Both GEMMs (with their fused epilogues) and the normalization report FP16.
    EXPECT_GE(fp16Layers(run.layers), 3u) << run.layers;

    std::vector<double> a(x.data<float>(), x.data<float>() + x.elementCount());
    std::vector<double> hidden = product(a, kBatch, kModel, w1, b1);
    for (double& v : hidden) v = gelu(v);
    std::vector<double> out = product(hidden, kBatch, kHidden, w2, b2);
    for (size_t i = 0; i < out.size(); ++i) out[i] += a[i];
    layerNormSoftmaxRows(out, kBatch, kModel, gamma, beta);
    const double error = test::relativeL2(run.y, out);
    EXPECT_LE(error, 2e-2);
    EXPECT_GT(error, 0.0) << "bit-exact with the double reference: the FP16 path did not run";
}

TEST_F(CudaFp16EngineTest, ASmallCnnMatchesItsReferenceWithFp16Allowed) {
    constexpr int64_t kChannels = 3, kSide = 8, kFilters = 8, kClasses = 10;
    Tensor convW = test::randomTensor(DataType::kFLOAT, {kFilters, kChannels, 3, 3}, -0.5, 0.5, 11);
    Tensor convB = test::randomTensor(DataType::kFLOAT, {kFilters}, -0.2, 0.2, 12);
    Tensor fcW = test::randomTensor(DataType::kFLOAT, {kFilters, kClasses}, -0.5, 0.5, 13);
    Tensor fcB = test::randomTensor(DataType::kFLOAT, {kClasses}, -0.2, 0.2, 14);
    Tensor x = test::randomTensor(DataType::kFLOAT, {2, kChannels, kSide, kSide}, -1, 1, 15);

    NetworkDefinition& net = *mNet;
    ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, kChannels, kSide, kSide});
    ITensor* c = net.addConvolution(*in, *constant(net, convW), constant(net, convB), {1, 1}, {1, 1, 1, 1})->getOutput(0);
    c = net.addActivation(*c, ActivationType::kRELU)->getOutput(0);
    c = net.addLayer("GlobalAveragePool", {c}, 1, LayerAttributes())->getOutput(0);
    c = net.addLayer("Flatten", {c}, 1, LayerAttributes().setInt("axis", 1))->getOutput(0);
    c = net.addMatrixMultiply(*c, *constant(net, fcW))->getOutput(0);
    ITensor* y = net.addElementWise(*c, *constant(net, fcB), ElementWiseOperation::kSUM)->getOutput(0);
    y->setName("y");
    net.markOutput(*y);

    Fp16Run run = buildAndRunFp16(*mBackend, mStream, net, *mBuilder, x, mLogger, Dims{2, kClasses});
    ASSERT_FALSE(run.layers.empty());
    EXPECT_GE(fp16Layers(run.layers), 2u) << run.layers;

    std::vector<double> reference;
    for (int64_t n = 0; n < 2; ++n) {
        std::vector<double> pooled(kFilters, 0.0);
        for (int64_t f = 0; f < kFilters; ++f)
            for (int64_t i = 0; i < kSide; ++i)
                for (int64_t j = 0; j < kSide; ++j) {
                    double sum = convB.data<float>()[f];
                    for (int64_t ch = 0; ch < kChannels; ++ch)
                        for (int64_t di = -1; di <= 1; ++di)
                            for (int64_t dj = -1; dj <= 1; ++dj) {
                                const int64_t r = i + di, s = j + dj;
                                if (r < 0 || r >= kSide || s < 0 || s >= kSide) continue;
                                sum += static_cast<double>(x.data<float>()[((n * kChannels + ch) * kSide + r) * kSide + s]) *
                                       convW.data<float>()[((f * kChannels + ch) * 3 + di + 1) * 3 + dj + 1];
                            }
                    pooled[static_cast<size_t>(f)] += std::max(sum, 0.0) / static_cast<double>(kSide * kSide);
                }
        std::vector<double> logits = product(pooled, 1, kFilters, fcW, fcB);
        reference.insert(reference.end(), logits.begin(), logits.end());
    }
    EXPECT_LE(test::relativeL2(run.y, reference), 2e-2);
}

TEST_F(CudaFp16EngineTest, APoolerGemmRunsAsOneFusedProductInFp16) {
    // BERT's pooler: Gemm(x, W^T, b, transB = 1) and Tanh. The builder rewrites it as a MatMul with the
    // bias and the Tanh in its epilogue (GemmToMatMul, then matmul fusion): one FP16 FusedMatMul layer.
    constexpr int64_t kRows = 40, kIn = 96, kOut = 72;
    Tensor w = test::randomTensor(DataType::kFLOAT, {kIn, kOut}, -0.2, 0.2, 21);
    Tensor b = test::randomTensor(DataType::kFLOAT, {kOut}, -0.3, 0.3, 22);
    Tensor x = test::randomTensor(DataType::kFLOAT, {kRows, kIn}, -1, 1, 23);
    Tensor wt = Tensor::allocate(DataType::kFLOAT, {kOut, kIn});  // the Gemm's B: W transposed
    for (int64_t k = 0; k < kIn; ++k)
        for (int64_t j = 0; j < kOut; ++j) wt.data<float>()[j * kIn + k] = w.data<float>()[k * kOut + j];

    NetworkDefinition& net = *mNet;
    ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{kRows, kIn});
    ITensor* h = net.addLayer("Gemm", {in, constant(net, wt), constant(net, b)}, 1, LayerAttributes().setInt("transB", 1))
                     ->getOutput(0);
    ITensor* y = net.addActivation(*h, ActivationType::kTANH)->getOutput(0);
    y->setName("y");
    net.markOutput(*y);

    Fp16Run run = buildAndRunFp16(*mBackend, mStream, net, *mBuilder, x, mLogger, Dims{kRows, kOut});
    ASSERT_FALSE(run.layers.empty());
    EXPECT_TRUE(std::regex_search(run.layers, std::regex("\"LayerType\":\\s*\"FusedMatMul\""))) << run.layers;
    EXPECT_FALSE(std::regex_search(run.layers, std::regex("\"LayerType\":\\s*\"Gemm\""))) << run.layers;
    EXPECT_GE(fp16Layers(run.layers), 1u) << run.layers;

    std::vector<double> reference = product(std::vector<double>(x.data<float>(), x.data<float>() + x.elementCount()),
                                            kRows, kIn, w, b);
    for (double& v : reference) v = std::tanh(v);
    const double error = test::relativeL2(run.y, reference);
    EXPECT_LE(error, 2e-2);
    EXPECT_GT(error, 0.0) << "bit-exact with the double reference: the FP16 path did not run";
}

}  // namespace
}  // namespace kiln::cudatest
