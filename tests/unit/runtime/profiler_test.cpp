// ExecutionContext::setProfiler: every layer of every run is reported, under the names the layer
// report uses, and profiling changes nothing about the results.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine_runner.h"
#include "test_support.h"

namespace kiln::test {
namespace {

class RecordingProfiler : public IProfiler {
public:
    void reportLayerTime(const char* layerName, float ms) noexcept override { reports.emplace_back(layerName, ms); }
    std::vector<std::pair<std::string, float>> reports;
};

class ProfilerTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    // y = softmax(x) * x over rows of 5: two layers that do not fuse.
    std::unique_ptr<Engine> buildSoftmaxTimesInput() {
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 5});
        ITensor* soft = net->addSoftMax(*x, -1)->getOutput(0);
        ITensor* y = net->addElementWise(*soft, *x, ElementWiseOperation::kPROD)->getOutput(0);
        y->setName("y");
        net->markOutput(*y);
        auto config = builder->createBuilderConfig();
        auto plan = builder->buildSerializedNetwork(*net, *config);
        if (!plan) return nullptr;
        return createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    }

    static std::vector<double> reference(const Tensor& x) {
        std::vector<double> out(15);
        const float* v = x.data<float>();
        for (int r = 0; r < 3; ++r) {
            double peak = v[r * 5], sum = 0;
            for (int c = 1; c < 5; ++c) peak = std::max(peak, double(v[r * 5 + c]));
            for (int c = 0; c < 5; ++c) sum += std::exp(double(v[r * 5 + c]) - peak);
            for (int c = 0; c < 5; ++c)
                out[static_cast<size_t>(r * 5 + c)] = std::exp(double(v[r * 5 + c]) - peak) / sum * v[r * 5 + c];
        }
        return out;
    }
};

TEST_F(ProfilerTest, ReportsEachLayerOncePerRunUnderItsReportedName) {
    auto engine = buildSoftmaxTimesInput();
    ASSERT_TRUE(engine);
    auto context = engine->createExecutionContext();
    ASSERT_TRUE(context);
    Tensor x = randomTensor(DataType::kFLOAT, {3, 5}, -2, 2, 7);
    Tensor y = Tensor::allocate(DataType::kFLOAT, {3, 5});
    ASSERT_TRUE(context->setTensorAddress("x", x.data()) && context->setTensorAddress("y", y.data()));

    RecordingProfiler profiler;
    EXPECT_EQ(context->getProfiler(), nullptr);
    context->setProfiler(&profiler);
    EXPECT_EQ(context->getProfiler(), &profiler);
    constexpr int kRuns = 3;
    for (int run = 0; run < kRuns; ++run) ASSERT_TRUE(context->execute());
    EXPECT_EQ(compareWithReference(y, reference(x), 1e-5, 1e-6), "");

    // The names are the layer report's, in run order, each once per run.
    nlohmann::json info = nlohmann::json::parse(engine->getLayerInformationJson());
    std::vector<std::string> layerNames;
    for (const auto& layer : info["Layers"]) layerNames.push_back(layer["Name"].get<std::string>());
    ASSERT_GE(layerNames.size(), 2u);
    ASSERT_EQ(profiler.reports.size(), layerNames.size() * kRuns);
    for (size_t i = 0; i < profiler.reports.size(); ++i) {
        EXPECT_EQ(profiler.reports[i].first, layerNames[i % layerNames.size()]) << i;
        EXPECT_GE(profiler.reports[i].second, 0.f);
        EXPECT_TRUE(std::isfinite(profiler.reports[i].second));
    }

    // Detached, the profiler hears nothing more.
    context->setProfiler(nullptr);
    ASSERT_TRUE(context->execute());
    EXPECT_EQ(profiler.reports.size(), layerNames.size() * kRuns);
}

TEST_F(ProfilerTest, ProfiledLayerTimesAddUpToAtMostTheRun) {
    auto engine = buildSoftmaxTimesInput();
    ASSERT_TRUE(engine);
    auto context = engine->createExecutionContext();
    Tensor x = randomTensor(DataType::kFLOAT, {3, 5}, -2, 2, 8);
    Tensor y = Tensor::allocate(DataType::kFLOAT, {3, 5});
    ASSERT_TRUE(context->setTensorAddress("x", x.data()) && context->setTensorAddress("y", y.data()));
    ASSERT_TRUE(context->execute());  // the first run prepares; time a later one
    RecordingProfiler profiler;
    context->setProfiler(&profiler);
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(context->execute());
    double runMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    double sum = 0;
    for (const auto& [name, ms] : profiler.reports) sum += ms;
    EXPECT_LE(sum, runMs + 1e-3);
    EXPECT_EQ(compareWithReference(y, reference(x), 1e-5, 1e-6), "");
}

}  // namespace
}  // namespace kiln::test
