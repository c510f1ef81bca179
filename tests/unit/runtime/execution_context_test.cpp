// The runtime through the public API on hand-built networks: profiles, errors, caller memory,
// concurrent contexts.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>
#include <tuple>

#include "engine_runner.h"
#include "test_support.h"

namespace kiln::test {
namespace {

class ExecutionContextTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    /// y = relu(x * w + b) over a dynamic batch: x [batch, 4], w [4, 3].
    void makeDynamicMlp() {
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 4});
        mW = randomTensor(DataType::kFLOAT, {4, 3}, -1, 1, 1);
        mB = randomTensor(DataType::kFLOAT, {3}, -1, 1, 2);
        ITensor* w = net->addConstant(Dims{4, 3}, DataType::kFLOAT, mW.data());
        ITensor* b = net->addConstant(Dims{3}, DataType::kFLOAT, mB.data());
        ITensor* mm = net->addMatrixMultiply(*x, *w)->getOutput(0);
        ITensor* sum = net->addElementWise(*mm, *b, ElementWiseOperation::kSUM)->getOutput(0);
        ITensor* y = net->addActivation(*sum, ActivationType::kRELU)->getOutput(0);
        y->setName("y");
        net->markOutput(*y);
    }
    std::vector<double> reference(const Tensor& x) const {
        int64_t batch = x.shape()[0];
        std::vector<double> out(static_cast<size_t>(batch * 3));
        for (int64_t n = 0; n < batch; ++n)
            for (int64_t j = 0; j < 3; ++j) {
                double acc = mB.data<float>()[j];
                for (int64_t k = 0; k < 4; ++k) acc += double(x.data<float>()[n * 4 + k]) * mW.data<float>()[k * 3 + j];
                out[static_cast<size_t>(n * 3 + j)] = std::max(acc, 0.0);
            }
        return out;
    }
    std::unique_ptr<Engine> buildEngine(const BuilderConfig& config) {
        auto plan = builder->buildSerializedNetwork(*net, config);
        if (!plan) return nullptr;
        return createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    }
    std::unique_ptr<BuilderConfig> profileConfig(int64_t lo, int64_t opt, int64_t hi) {
        auto config = builder->createBuilderConfig();
        auto profile = builder->createOptimizationProfile();
        profile->setDimensions("x", OptProfileSelector::kMIN, Dims{lo, 4});
        profile->setDimensions("x", OptProfileSelector::kOPT, Dims{opt, 4});
        profile->setDimensions("x", OptProfileSelector::kMAX, Dims{hi, 4});
        EXPECT_EQ(config->addOptimizationProfile(profile.get()), 0);
        return config;
    }
    bool runAt(ExecutionContext& ctx, int64_t batch, Tensor* out, uint32_t seed, Tensor* in) {
        *in = randomTensor(DataType::kFLOAT, {batch, 4}, -1, 1, seed);
        *out = Tensor::allocate(DataType::kFLOAT, {batch, 3});
        return ctx.setInputShape("x", Dims{batch, 4}) && ctx.setTensorAddress("x", in->data()) &&
               ctx.setTensorAddress("y", out->data()) && ctx.execute();
    }

    Tensor mW, mB;
};

TEST_F(ExecutionContextTest, ProfileRunsInsideItsRangeAndRefusesOutside) {
    makeDynamicMlp();
    auto engine = buildEngine(*profileConfig(1, 4, 8));
    ASSERT_TRUE(engine);
    EXPECT_EQ(engine->getNbOptimizationProfiles(), 1);
    EXPECT_EQ(engine->getTensorShape("x"), (Dims{-1, 4}));
    EXPECT_EQ(engine->getProfileShape("x", 0, OptProfileSelector::kMAX), (Dims{8, 4}));
    // MatMul + bias + ReLU fuse into one layer that reads the input and writes the output in place:
    // no intermediate tensor, so the profile needs no activation memory at all.
    EXPECT_EQ(engine->getDeviceMemorySizeForProfile(0), 0u);
    EXPECT_EQ(engine->getDeviceMemorySize(), 0u);
    auto ctx = engine->createExecutionContext();
    for (int64_t batch : {1, 3, 8}) {
        Tensor in, out;
        ASSERT_TRUE(runAt(*ctx, batch, &out, static_cast<uint32_t>(batch), &in)) << "batch " << batch;
        EXPECT_EQ(ctx->getTensorShape("y"), (Dims{batch, 3}));
        EXPECT_EQ(compareWithReference(out, reference(in), 1e-5, 1e-6), "");
    }
    logger.errors.clear();
    EXPECT_FALSE(ctx->setInputShape("x", Dims{9, 4}));
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("outside optimization profile"), std::string::npos) << logger.errors.back();
    EXPECT_NE(logger.errors.back().find("'x'"), std::string::npos);
}

TEST_F(ExecutionContextTest, AnExtentEveryProfileFixesIsStaticForTheOptimizerOnly) {
    // y = x * float(batch): the batch is read off x's shape at run time, unless the profile fixes it.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 4});
    ITensor* shape = net->addLayer("Shape", {x})->getOutput(0);
    const int64_t zero = 0;
    ITensor* index = net->addConstant(Dims{}, DataType::kINT64, &zero);
    ITensor* batch = net->addLayer("Gather", {shape, index}, 1, LayerAttributes().setInt("axis", 0))->getOutput(0);
    ITensor* scale = net->addLayer("Cast", {batch}, 1, LayerAttributes().setInt("to", 1))->getOutput(0);
    ITensor* y = net->addElementWise(*x, *scale, ElementWiseOperation::kPROD)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto pinned = buildEngine(*profileConfig(5, 5, 5));
    auto ranged = buildEngine(*profileConfig(1, 5, 8));
    ASSERT_TRUE(pinned && ranged);
    // Shape -> Gather -> Cast folds to the constant 5 only where the profile fixes the batch.
    EXPECT_LT(pinned->getNbLayers(), ranged->getNbLayers());
    EXPECT_EQ(pinned->getTensorShape("x"), (Dims{-1, 4}));  // the engine still declares the model's shape
    for (Engine* engine : {pinned.get(), ranged.get()}) {
        auto ctx = engine->createExecutionContext();
        Tensor in = randomTensor(DataType::kFLOAT, {5, 4}, -1, 1, 7);
        Tensor out = Tensor::allocate(DataType::kFLOAT, {5, 4});
        ASSERT_TRUE(ctx->setInputShape("x", Dims{5, 4}) && ctx->setTensorAddress("x", in.data()) &&
                    ctx->setTensorAddress("y", out.data()) && ctx->execute());
        std::vector<double> expected(20);
        for (size_t i = 0; i < expected.size(); ++i) expected[i] = 5.0 * in.data<float>()[i];
        EXPECT_EQ(compareWithReference(out, expected, 1e-6, 1e-7), "");
    }
    auto ctx = pinned->createExecutionContext();
    EXPECT_FALSE(ctx->setInputShape("x", Dims{4, 4}));  // outside the profile the folded 5 would be wrong
}

TEST_F(ExecutionContextTest, SeveralProfilesEachServeTheirOwnRange) {
    makeDynamicMlp();
    auto config = builder->createBuilderConfig();
    for (auto [lo, opt, hi] : {std::tuple<int64_t, int64_t, int64_t>{1, 2, 4}, {5, 8, 16}}) {
        auto profile = builder->createOptimizationProfile();
        profile->setDimensions("x", OptProfileSelector::kMIN, Dims{lo, 4});
        profile->setDimensions("x", OptProfileSelector::kOPT, Dims{opt, 4});
        profile->setDimensions("x", OptProfileSelector::kMAX, Dims{hi, 4});
        config->addOptimizationProfile(profile.get());
    }
    auto engine = buildEngine(*config);
    ASSERT_TRUE(engine);
    ASSERT_EQ(engine->getNbOptimizationProfiles(), 2);
    EXPECT_EQ(engine->getProfileShape("x", 1, OptProfileSelector::kMIN), (Dims{5, 4}));
    EXPECT_EQ(engine->getProfileShape("x", 1, OptProfileSelector::kMAX), (Dims{16, 4}));
    auto ctx = engine->createExecutionContext();
    EXPECT_EQ(ctx->getOptimizationProfile(), 0);
    EXPECT_FALSE(ctx->setInputShape("x", Dims{12, 4}));  // profile 0 ends at 4
    ASSERT_TRUE(ctx->setOptimizationProfile(1));
    for (int64_t batch : {5, 12, 16}) {
        Tensor in, out;
        ASSERT_TRUE(runAt(*ctx, batch, &out, static_cast<uint32_t>(40 + batch), &in)) << "batch " << batch;
        EXPECT_EQ(compareWithReference(out, reference(in), 1e-5, 1e-6), "");
    }
    EXPECT_FALSE(ctx->setInputShape("x", Dims{3, 4}));  // profile 1 starts at 5
    EXPECT_FALSE(ctx->setOptimizationProfile(2));
    // A second context can serve the other profile at the same time.
    auto small = engine->createExecutionContext();
    Tensor in, out;
    ASSERT_TRUE(runAt(*small, 3, &out, 50, &in));
    EXPECT_EQ(compareWithReference(out, reference(in), 1e-5, 1e-6), "");
}

TEST_F(ExecutionContextTest, ShapeTensorInputsAreReadOnTheHostEachRun) {
    // y = Reshape(Relu(x), target): the contents of `target` decide y's shape.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1});
    ITensor* target = net->addInput("target", DataType::kINT64, Dims{2});
    ITensor* y = net->addLayer("Reshape", {net->addActivation(*x, ActivationType::kRELU)->getOutput(0), target})
                     ->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto config = builder->createBuilderConfig();
    auto profile = builder->createOptimizationProfile();
    profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1});
    profile->setDimensions("x", OptProfileSelector::kOPT, Dims{12});
    profile->setDimensions("x", OptProfileSelector::kMAX, Dims{24});
    const int64_t lo[2] = {1, 1}, opt[2] = {3, 4}, hi[2] = {4, 6};  // each point a valid reshape
    ASSERT_TRUE(profile->setShapeValues("target", OptProfileSelector::kMIN, lo, 2));
    ASSERT_TRUE(profile->setShapeValues("target", OptProfileSelector::kOPT, opt, 2));
    ASSERT_TRUE(profile->setShapeValues("target", OptProfileSelector::kMAX, hi, 2));
    ASSERT_EQ(config->addOptimizationProfile(profile.get()), 0);
    auto engine = buildEngine(*config);
    ASSERT_TRUE(engine) << (logger.errors.empty() ? "" : logger.errors.back());
    EXPECT_TRUE(engine->isShapeInferenceIO("target"));
    EXPECT_FALSE(engine->isShapeInferenceIO("x"));
    EXPECT_EQ(engine->getProfileShapeValues("target", 0, OptProfileSelector::kMAX), (std::vector<int64_t>{4, 6}));

    auto ctx = engine->createExecutionContext();
    Tensor in = randomTensor(DataType::kFLOAT, {12}, -1, 1, 60);
    Tensor out = Tensor::allocate(DataType::kFLOAT, {12});
    int64_t shape[2] = {3, 4};
    ASSERT_TRUE(ctx->setInputShape("x", Dims{12}));
    ASSERT_TRUE(ctx->setTensorAddress("x", in.data()) && ctx->setTensorAddress("target", shape) &&
                ctx->setTensorAddress("y", out.data()));
    std::vector<double> relu;
    for (int64_t i = 0; i < 12; ++i) relu.push_back(std::max(0.0, double(in.data<float>()[i])));
    ASSERT_TRUE(ctx->execute());
    EXPECT_EQ(ctx->getTensorShape("y"), (Dims{3, 4}));
    EXPECT_EQ(compareWithReference(out, relu, 0, 0), "");
    shape[0] = 2;  // new contents, same tensor shapes: the next run re-plans
    shape[1] = 6;
    ASSERT_TRUE(ctx->execute());
    EXPECT_EQ(ctx->getTensorShape("y"), (Dims{2, 6}));
    shape[0] = 30;
    shape[1] = 1;
    logger.errors.clear();
    ASSERT_FALSE(ctx->execute());
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("'target'"), std::string::npos) << logger.errors.back();
    EXPECT_NE(logger.errors.back().find("outside optimization profile"), std::string::npos) << logger.errors.back();
}

TEST_F(ExecutionContextTest, ShapeValuesMustFitTheInput) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{6});
    ITensor* target = net->addInput("target", DataType::kINT64, Dims{2});
    net->markOutput(*net->addLayer("Reshape", {x, target})->getOutput(0));
    auto config = builder->createBuilderConfig();
    auto profile = builder->createOptimizationProfile();
    const int64_t three[3] = {1, 2, 3};
    for (int sel = 0; sel < 3; ++sel)
        profile->setShapeValues("target", static_cast<OptProfileSelector>(sel), three, 3);  // target holds 2
    ASSERT_EQ(config->addOptimizationProfile(profile.get()), 0);
    EXPECT_FALSE(builder->buildSerializedNetwork(*net, *config));
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("'target'"), std::string::npos) << logger.errors.back();
    const int64_t bad[2] = {5, 1};
    EXPECT_TRUE(profile->setShapeValues("target", OptProfileSelector::kMIN, bad, 2));
    EXPECT_FALSE(profile->isValid());  // 2 min values against 3 opt and 3 max
}

TEST_F(ExecutionContextTest, DynamicInputWithoutProfileIsABuildError) {
    makeDynamicMlp();
    auto config = builder->createBuilderConfig();
    EXPECT_FALSE(builder->buildSerializedNetwork(*net, *config));
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("'x'"), std::string::npos);
    EXPECT_NE(logger.errors.back().find("profile"), std::string::npos);
}

TEST_F(ExecutionContextTest, MissingShapeOrAddressIsAClearError) {
    makeDynamicMlp();
    auto engine = buildEngine(*profileConfig(1, 2, 4));
    ASSERT_TRUE(engine);
    auto ctx = engine->createExecutionContext();
    Tensor in = randomTensor(DataType::kFLOAT, {2, 4}, -1, 1, 3), out = Tensor::allocate(DataType::kFLOAT, {2, 3});
    ctx->setTensorAddress("x", in.data());
    ctx->setTensorAddress("y", out.data());
    EXPECT_FALSE(ctx->execute());
    EXPECT_NE(logger.errors.back().find("setInputShape"), std::string::npos) << logger.errors.back();
    ASSERT_TRUE(ctx->setInputShape("x", Dims{2, 4}));
    ctx->setTensorAddress("y", nullptr);
    EXPECT_FALSE(ctx->execute());
    EXPECT_NE(logger.errors.back().find("'y'"), std::string::npos) << logger.errors.back();
    EXPECT_FALSE(ctx->setInputShape("nope", Dims{2, 4}));
    EXPECT_FALSE(ctx->setInputShape("x", Dims{2, 5}));
}

TEST_F(ExecutionContextTest, RunsInCallerMemory) {
    makeDynamicMlp();
    auto engine = buildEngine(*profileConfig(1, 2, 4));
    ASSERT_TRUE(engine);
    auto ctx = engine->createExecutionContextWithoutDeviceMemory();
    std::vector<uint8_t> memory(engine->getDeviceMemorySizeForProfile(0) + 64);
    void* aligned = memory.data() + (64 - reinterpret_cast<uintptr_t>(memory.data()) % 64) % 64;
    ASSERT_TRUE(ctx->setDeviceMemory(aligned, engine->getDeviceMemorySizeForProfile(0)));
    Tensor in, out;
    ASSERT_TRUE(runAt(*ctx, 4, &out, 5, &in));
    EXPECT_EQ(compareWithReference(out, reference(in), 1e-5, 1e-6), "");
}

TEST_F(ExecutionContextTest, ConcurrentContextsGiveBitIdenticalResults) {
    makeDynamicMlp();
    auto engine = buildEngine(*profileConfig(1, 4, 8));
    ASSERT_TRUE(engine);
    Tensor in = randomTensor(DataType::kFLOAT, {8, 4}, -1, 1, 9);
    Tensor single = Tensor::allocate(DataType::kFLOAT, {8, 3});
    auto ctx = engine->createExecutionContext();
    ASSERT_TRUE(ctx->setInputShape("x", Dims{8, 4}) && ctx->setTensorAddress("x", in.data()) &&
                ctx->setTensorAddress("y", single.data()) && ctx->execute());
    std::vector<Tensor> outs(4);
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            auto c = engine->createExecutionContext();
            outs[static_cast<size_t>(t)] = Tensor::allocate(DataType::kFLOAT, {8, 3});
            bool good = c->setInputShape("x", Dims{8, 4}) && c->setTensorAddress("x", in.data()) &&
                        c->setTensorAddress("y", outs[static_cast<size_t>(t)].data());
            for (int i = 0; good && i < 20; ++i) good = c->execute();
            ok[static_cast<size_t>(t)] = good;
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) {
        ASSERT_TRUE(ok[static_cast<size_t>(t)]);
        EXPECT_EQ(std::memcmp(outs[static_cast<size_t>(t)].data(), single.data(), single.byteSize()), 0);
    }
}

TEST_F(ExecutionContextTest, OutputsThatNoLayerWritesAreCopied) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 2});
    float values[] = {1.5f, -2.f, 3.f, 0.25f};
    ITensor* c = net->addConstant(Dims{2, 2}, DataType::kFLOAT, values);
    ITensor* sum = net->addElementWise(*x, *c, ElementWiseOperation::kSUM)->getOutput(0);
    c->setName("weights");
    net->markOutput(*sum);
    net->markOutput(*c);  // a constant output: no layer writes it, the context copies it
    auto engine = buildEngine(*builder->createBuilderConfig());
    ASSERT_TRUE(engine);
    EXPECT_EQ(engine->getNbIOTensors(), 3);
    auto ctx = engine->createExecutionContext();
    Tensor in = randomTensor(DataType::kFLOAT, {2, 2}, -1, 1, 4), outSum = Tensor::allocate(DataType::kFLOAT, {2, 2});
    Tensor outConst = Tensor::allocate(DataType::kFLOAT, {2, 2});
    ASSERT_TRUE(ctx->setTensorAddress("x", in.data()));
    ASSERT_TRUE(ctx->setTensorAddress(sum->getName(), outSum.data()));
    ASSERT_TRUE(ctx->setTensorAddress("weights", outConst.data()));
    ASSERT_TRUE(ctx->execute());
    for (int i = 0; i < 4; ++i) {
        EXPECT_FLOAT_EQ(outSum.data<float>()[i], in.data<float>()[i] + values[i]);
        EXPECT_EQ(outConst.data<float>()[i], values[i]);
    }
}

}  // namespace
}  // namespace kiln::test
