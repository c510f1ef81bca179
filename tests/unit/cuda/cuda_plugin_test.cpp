// A plugin layer in a CUDA engine: the sample library's FlattenConcat (tests/plugins/sample_plugins.cpp,
// one cudaMemcpy2DAsync per input on the context's stream) between CUDA layers, in an FP32 engine and
// in a weakly typed FP16 one (the plugin accepts float16), against a double-precision reference.

#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_support.h"
#include "engine_runner.h"
#include "kiln/kiln.h"
#include "sample_plugins_library.h"

namespace kiln::cudatest {
namespace {

constexpr int64_t kBatch = 4, kChannels = 3, kWidth = 16, kScores = 10;
constexpr int64_t kOut = kChannels * kWidth + kScores;

class CudaPluginTest : public CudaTest {
protected:
    void SetUp() override {
        CudaTest::SetUp();
        if (IsSkipped()) return;
        std::string error;
        ASSERT_TRUE(getPluginRegistry().loadLibrary(test::samplePluginsLibrary().c_str(), &error)) << error;
    }

    /// relu(x) and sigmoid(s), flattened and concatenated by the plugin, times 2, run once on the GPU.
    Tensor run(bool fp16, const Tensor& x, const Tensor& s, std::string* layers) {
        auto builder = createBuilder(mLogger);
        auto net = builder->createNetwork();
        ITensor* xin = net->addInput("x", DataType::kFLOAT, Dims{kBatch, kChannels, kWidth});
        ITensor* sin = net->addInput("s", DataType::kFLOAT, Dims{kBatch, kScores});
        ITensor* a = net->addActivation(*xin, ActivationType::kRELU)->getOutput(0);
        ITensor* b = net->addActivation(*sin, ActivationType::kSIGMOID)->getOutput(0);
        ILayer* plugin = net->addPluginLayer({a, b}, "FlattenConcat", "1", "", PluginFieldCollection().setInt("axis", 1));
        EXPECT_NE(plugin, nullptr);
        if (!plugin) return {};
        const float two = 2.f;
        ITensor* scale = net->addConstant(Dims{}, DataType::kFLOAT, &two);
        ITensor* y = net->addElementWise(*plugin->getOutput(0), *scale, ElementWiseOperation::kPROD)->getOutput(0);
        y->setName("y");
        net->markOutput(*y);

        auto config = builder->createBuilderConfig();
        config->setDefaultDeviceType(DeviceType::kGPU);
        if (fp16) config->setFlag(BuilderFlag::kFP16);
        auto plan = builder->buildSerializedNetwork(*net, *config);
        EXPECT_NE(plan, nullptr);
        if (!plan) return {};
        auto engine = createRuntime(mLogger)->deserializeEngine(plan->data(), plan->size());
        EXPECT_NE(engine, nullptr);
        if (!engine) return {};
        *layers = engine->getLayerInformationJson();
        auto context = engine->createExecutionContext();
        EXPECT_NE(context, nullptr);
        if (!context) return {};
        Tensor out = Tensor::allocate(DataType::kFLOAT, {kBatch, kOut});
        DeviceBuffer xd(*mBackend, x.byteSize()), sd(*mBackend, s.byteSize()), yd(*mBackend, out.byteSize());
        EXPECT_TRUE(mBackend->copyToDevice(xd.get(), x.data(), x.byteSize(), mStream).isOk());
        EXPECT_TRUE(mBackend->copyToDevice(sd.get(), s.data(), s.byteSize(), mStream).isOk());
        EXPECT_TRUE(context->setTensorAddress("x", xd.get()));
        EXPECT_TRUE(context->setTensorAddress("s", sd.get()));
        EXPECT_TRUE(context->setTensorAddress("y", yd.get()));
        EXPECT_TRUE(context->enqueue(mStream));
        EXPECT_TRUE(mBackend->copyToHost(out.data(), yd.get(), out.byteSize(), mStream).isOk());
        EXPECT_TRUE(mBackend->synchronize(mStream).isOk());
        return out;
    }

    test::CapturingLogger mLogger;
};

std::vector<double> reference(const Tensor& x, const Tensor& s) {
    std::vector<double> out;
    for (int64_t n = 0; n < kBatch; ++n) {
        for (int64_t i = 0; i < kChannels * kWidth; ++i)
            out.push_back(2.0 * std::max(0.0, static_cast<double>(x.data<float>()[n * kChannels * kWidth + i])));
        for (int64_t i = 0; i < kScores; ++i)
            out.push_back(2.0 / (1.0 + std::exp(-static_cast<double>(s.data<float>()[n * kScores + i]))));
    }
    return out;
}

TEST_F(CudaPluginTest, FlattenConcatRunsBetweenCudaLayers) {
    const Tensor x = test::randomTensor(DataType::kFLOAT, {kBatch, kChannels, kWidth}, -2, 2, 1);
    const Tensor s = test::randomTensor(DataType::kFLOAT, {kBatch, kScores}, -3, 3, 2);
    for (bool fp16 : {false, true}) {
        std::string layers;
        Tensor y = run(fp16, x, s, &layers);
        ASSERT_EQ(y.elementCount(), kBatch * kOut) << (fp16 ? "fp16" : "fp32");
        EXPECT_EQ(test::compareWithReference(y, reference(x, s), fp16 ? 2e-3 : 1e-6, fp16 ? 1e-3 : 1e-6), "")
            << (fp16 ? "fp16" : "fp32");
        EXPECT_NE(layers.find("cuda.plugin.FlattenConcat_v1"), std::string::npos) << layers;
    }
}

}  // namespace
}  // namespace kiln::cudatest
