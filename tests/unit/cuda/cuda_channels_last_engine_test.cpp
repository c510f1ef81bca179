// FP16 engines of convolutional networks on the GPU run their convolutions channels-last
// (passes/channels_last_layout.h): a ResNet-style stack (stem convolution, MaxPool, a residual block,
// global pooling, a classifier) and a squeeze-excite block built with BuilderFlag::kFP16 (and no timing,
// so the layout is the pass's, not a timed choice) must show
// channels-last layers with transposes only at the region's edges, and match the CPU backend's FP32
// engine within FP16's tolerance (2e-2 relative L2).

#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <map>
#include <memory>
#include <regex>
#include <string>

#include "cuda_test_support.h"
#include "engine_runner.h"
#include "kiln/kiln.h"

namespace kiln::cudatest {
namespace {

ITensor* constant(NetworkDefinition& net, const Tensor& t) {
    Dims dims;
    for (int64_t d : t.shape()) dims.d[dims.nbDims++] = d;
    return net.addConstant(dims, DataType::kFLOAT, t.data());
}

size_t layersOfType(const std::string& json, const std::string& type) {
    const std::regex pattern("\"LayerType\":\\s*\"" + type + "\"");
    return static_cast<size_t>(std::distance(std::sregex_iterator(json.begin(), json.end(), pattern), std::sregex_iterator()));
}

class CudaChannelsLastEngineTest : public CudaTest {
protected:
    test::CapturingLogger mLogger;
    std::unique_ptr<Builder> mBuilder = createBuilder(mLogger);
    std::unique_ptr<NetworkDefinition> mNet = mBuilder->createNetwork();
    uint32_t mSeed = 1;

    ITensor* conv(ITensor* x, int64_t in, int64_t out, int64_t kernel, int64_t stride) {
        Tensor w = test::randomTensor(DataType::kFLOAT, {out, in, kernel, kernel}, -0.4, 0.4, mSeed++);
        Tensor b = test::randomTensor(DataType::kFLOAT, {out}, -0.2, 0.2, mSeed++);
        const int64_t pad = kernel / 2;
        return mNet->addConvolution(*x, *constant(*mNet, w), constant(*mNet, b), {stride, stride}, {pad, pad, pad, pad})
            ->getOutput(0);
    }
    ITensor* relu(ITensor* x) { return mNet->addActivation(*x, ActivationType::kRELU)->getOutput(0); }

    /// The FP16 GPU engine's output and layer JSON, and the FP32 CPU engine's output, for input x.
    void buildBoth(const Tensor& x, Tensor& gpuY, std::string& layers, Tensor& cpuY) {
        auto config = mBuilder->createBuilderConfig();
        test::EngineRun cpu = test::buildAndRun(*mBuilder, *mNet, *config, {{"x", x}}, mLogger);
        ASSERT_TRUE(cpu.ok);
        cpuY = cpu.outputs[0];
        config->setDefaultDeviceType(DeviceType::kGPU);
        config->setFlag(BuilderFlag::kFP16);
        // Level 0 keeps the channels-last pass's layout without timing: these tests check the pass's
        // regions, which a timed choice may drop for NCHW on graphs this small (layout selection has its
        // own tests: layout_selection_test, cli_timing_cache).
        config->setBuilderOptimizationLevel(0);
        auto plan = mBuilder->buildSerializedNetwork(*mNet, *config);
        ASSERT_NE(plan, nullptr);
        auto engine = createRuntime(mLogger)->deserializeEngine(plan->data(), plan->size());
        ASSERT_NE(engine, nullptr);
        layers = engine->getLayerInformationJson();
        auto context = engine->createExecutionContext();
        gpuY = Tensor::allocate(DataType::kFLOAT, cpuY.shape());
        DeviceBuffer in(*mBackend, x.byteSize()), out(*mBackend, gpuY.byteSize());
        ASSERT_TRUE(mBackend->copyToDevice(in.get(), x.data(), x.byteSize(), mStream).isOk());
        ASSERT_TRUE(context->setTensorAddress("x", in.get()));
        ASSERT_TRUE(context->setTensorAddress("y", out.get()));
        ASSERT_TRUE(context->enqueue(mStream));
        ASSERT_TRUE(mBackend->copyToHost(gpuY.data(), out.get(), gpuY.byteSize(), mStream).isOk());
        ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
    }
};

TEST_F(CudaChannelsLastEngineTest, AResNetStackRunsChannelsLastWithinFp16Tolerance) {
    constexpr int64_t kClasses = 10;
    ITensor* x = mNet->addInput("x", DataType::kFLOAT, Dims{2, 3, 32, 32});
    ITensor* stem = relu(conv(x, 3, 16, 3, 2));
    ITensor* pooled = mNet->addLayer("MaxPool", {stem}, 1,
                                     LayerAttributes()
                                         .setInts("kernel_shape", {3, 3})
                                         .setInts("strides", {2, 2})
                                         .setInts("pads", {1, 1, 1, 1}))
                          ->getOutput(0);
    ITensor* branch = conv(relu(conv(pooled, 16, 16, 3, 1)), 16, 16, 3, 1);
    ITensor* block = relu(mNet->addElementWise(*branch, *pooled, ElementWiseOperation::kSUM)->getOutput(0));
    ITensor* features = mNet->addLayer("GlobalAveragePool", {block}, 1, LayerAttributes())->getOutput(0);
    features = mNet->addLayer("Flatten", {features}, 1, LayerAttributes().setInt("axis", 1))->getOutput(0);
    Tensor fc = test::randomTensor(DataType::kFLOAT, {16, kClasses}, -0.5, 0.5, mSeed++);
    ITensor* y = mNet->addMatrixMultiply(*features, *constant(*mNet, fc))->getOutput(0);
    y->setName("y");
    mNet->markOutput(*y);

    Tensor input = test::randomTensor(DataType::kFLOAT, {2, 3, 32, 32}, -1, 1, mSeed++);
    Tensor gpuY, cpuY;
    std::string layers;
    buildBoth(input, gpuY, layers, cpuY);
    ASSERT_FALSE(layers.empty());
    EXPECT_EQ(layersOfType(layers, "Conv"), 0u) << layers;
    EXPECT_GE(layersOfType(layers, "FusedConv"), 3u) << layers;
    EXPECT_EQ(layersOfType(layers, "ChannelsLastPool"), 1u) << layers;
    EXPECT_LE(layersOfType(layers, "Transpose"), 2u) << layers;  // into the region, and out before Flatten
    const double error = test::relativeL2(gpuY, cpuY.toDoubleVector());
    EXPECT_LE(error, 2e-2);
    EXPECT_GT(error, 0.0) << "bit-exact with the FP32 reference: the FP16 path did not run";
}

TEST_F(CudaChannelsLastEngineTest, ASqueezeExciteBlockStaysChannelsLast) {
    ITensor* x = mNet->addInput("x", DataType::kFLOAT, Dims{2, 8, 12, 12});
    ITensor* block = conv(x, 8, 16, 3, 1);
    ITensor* squeezed = mNet->addLayer("GlobalAveragePool", {block}, 1, LayerAttributes())->getOutput(0);
    ITensor* gate = mNet->addActivation(*conv(relu(conv(squeezed, 16, 4, 1, 1)), 4, 16, 1, 1), ActivationType::kSIGMOID)
                        ->getOutput(0);
    ITensor* y = mNet->addElementWise(*block, *gate, ElementWiseOperation::kPROD)->getOutput(0);
    y->setName("y");
    mNet->markOutput(*y);

    Tensor input = test::randomTensor(DataType::kFLOAT, {2, 8, 12, 12}, -1, 1, mSeed++);
    Tensor gpuY, cpuY;
    std::string layers;
    buildBoth(input, gpuY, layers, cpuY);
    ASSERT_FALSE(layers.empty());
    EXPECT_EQ(layersOfType(layers, "Conv"), 0u) << layers;
    EXPECT_EQ(layersOfType(layers, "Transpose"), 2u) << layers;  // x in, y out
    EXPECT_LE(test::relativeL2(gpuY, cpuY.toDoubleVector()), 2e-2);
}

}  // namespace
}  // namespace kiln::cudatest
