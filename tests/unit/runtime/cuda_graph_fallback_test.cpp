// kiln::CudaGraph where no graph can be captured, which needs no GPU: a CPU engine runs every call by
// plain enqueue, with the results enqueue() gives, and says why; a profiler is named as the reason
// before the backend is even asked. (Captures and replays on a GPU: tests/unit/cuda/cuda_graph_test.cpp.)

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine_runner.h"
#include "kiln/cuda_graph.h"
#include "test_support.h"

namespace kiln::test {
namespace {

class CudaGraphFallbackTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    /// y = relu(x) + x for x [batch, 6], batch 1..4.
    std::unique_ptr<Engine> buildCpuEngine() {
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 6});
        ITensor* r = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
        ITensor* y = net->addElementWise(*r, *x, ElementWiseOperation::kSUM)->getOutput(0);
        y->setName("y");
        net->markOutput(*y);
        auto config = builder->createBuilderConfig();
        auto profile = builder->createOptimizationProfile();
        profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1, 6});
        profile->setDimensions("x", OptProfileSelector::kOPT, Dims{2, 6});
        profile->setDimensions("x", OptProfileSelector::kMAX, Dims{4, 6});
        config->addOptimizationProfile(profile.get());
        auto plan = builder->buildSerializedNetwork(*net, *config);
        if (!plan) return nullptr;
        return createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    }

    static std::vector<double> reference(const Tensor& x) {
        std::vector<double> out;
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            const double v = x.data<float>()[i];
            out.push_back(std::max(v, 0.0) + v);
        }
        return out;
    }
};

class CountingProfiler : public IProfiler {
public:
    void reportLayerTime(const char*, float) noexcept override { ++reports; }
    int reports{0};
};

TEST_F(CudaGraphFallbackTest, ACpuEngineRunsEveryCallWithoutAGraphAndSaysWhy) {
    auto engine = buildCpuEngine();
    ASSERT_NE(engine, nullptr);
    auto context = engine->createExecutionContext();
    ASSERT_NE(context, nullptr);
    CudaGraph graph(*context);
    EXPECT_STREQ(graph.getNotCapturedReason(), "");

    Tensor y = Tensor::allocate(DataType::kFLOAT, {4, 6});
    ASSERT_TRUE(context->setTensorAddress("y", y.data()));
    for (int64_t batch : {2, 2, 3}) {
        Tensor x = randomTensor(DataType::kFLOAT, {batch, 6}, -1, 1, static_cast<uint32_t>(batch) + 40);
        ASSERT_TRUE(context->setInputShape("x", Dims{batch, 6}));
        ASSERT_TRUE(context->setTensorAddress("x", x.data()));
        std::fill_n(y.data<float>(), y.elementCount(), std::nanf(""));
        ASSERT_TRUE(graph.enqueue(nullptr)) << "batch " << batch;
        EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kNOT_CAPTURED);
        const std::string why = graph.getNotCapturedReason();
        EXPECT_NE(why.find("the cpu backend runs its kernels on the host"), std::string::npos) << why;
        Tensor rows = Tensor::allocate(DataType::kFLOAT, {batch, 6});
        std::copy_n(y.data<float>(), rows.elementCount(), rows.data<float>());
        EXPECT_EQ(compareWithReference(rows, reference(x), 0, 0), "") << "batch " << batch;
    }

    CountingProfiler profiler;
    context->setProfiler(&profiler);
    ASSERT_TRUE(graph.enqueue(nullptr));
    EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kNOT_CAPTURED);
    EXPECT_NE(std::string(graph.getNotCapturedReason()).find("a profiler is attached"), std::string::npos)
        << graph.getNotCapturedReason();
    EXPECT_GT(profiler.reports, 0);
    EXPECT_TRUE(logger.errors.empty());
}

TEST_F(CudaGraphFallbackTest, AFailingRunFailsAsEnqueueWould) {
    auto engine = buildCpuEngine();
    ASSERT_NE(engine, nullptr);
    auto context = engine->createExecutionContext();
    ASSERT_NE(context, nullptr);
    CudaGraph graph(*context);
    // The dynamic input has no shape yet.
    EXPECT_FALSE(graph.enqueue(nullptr));
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("setInputShape"), std::string::npos) << logger.errors.back();
}

}  // namespace
}  // namespace kiln::test
