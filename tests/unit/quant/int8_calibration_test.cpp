// INT8 calibration end to end on the CPU: a small CNN and an MLP built with a calibrator give outputs
// within INT8's error of FP32 on fresh data of the calibration's distribution, with the Q/DQ layers in
// the engine's layer list; the cache it writes skips calibration the next time; explicit-Q/DQ networks,
// no calibrator, no data and a damaged cache each behave as documented.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine_runner.h"
#include "test_support.h"

namespace kiln {
namespace {

using test::CapturingLogger;

/// Uniform [-1, 1) batches of the announced shapes, counted; keeps the cache it is given and writes.
class RandomCalibrator : public IInt8Calibrator {
public:
    RandomCalibrator(CalibrationAlgoType algorithm, int32_t batches) : mAlgorithm(algorithm), mBatches(batches) {}
    int32_t getBatchSize() const noexcept override { return 1; }
    bool getBatch(void* bindings[], const char* names[], int32_t nbBindings) noexcept override {
        if (given >= mBatches) return false;
        for (int32_t i = 0; i < nbBindings; ++i) {
            const Dims& dims = mShapes.at(names[i]);
            Shape shape(dims.d, dims.d + dims.nbDims);
            mData[names[i]] = test::randomTensor(DataType::kFLOAT, shape, -1.0, 1.0, 1000 + static_cast<uint32_t>(given * 16 + i));
            bindings[i] = mData[names[i]].data();
        }
        ++given;
        return true;
    }
    const void* readCalibrationCache(size_t& length) noexcept override {
        length = cacheIn.size();
        return cacheIn.empty() ? nullptr : cacheIn.data();
    }
    void writeCalibrationCache(const void* ptr, size_t length) noexcept override {
        cacheOut.assign(static_cast<const char*>(ptr), length);
    }
    CalibrationAlgoType getAlgorithm() noexcept override { return mAlgorithm; }
    void setBatchInputs(const CalibrationInput* inputs, int32_t nbInputs) noexcept override {
        for (int32_t i = 0; i < nbInputs; ++i) mShapes[inputs[i].name] = inputs[i].dims;
    }

    int32_t given{0};
    std::string cacheIn, cacheOut;

private:
    CalibrationAlgoType mAlgorithm;
    int32_t mBatches;
    std::map<std::string, Dims> mShapes;
    std::map<std::string, Tensor> mData;
};

ITensor* constant(NetworkDefinition& net, const Shape& shape, double scale, uint32_t seed) {
    Tensor t = test::randomTensor(DataType::kFLOAT, shape, -scale, scale, seed);
    Dims dims;
    for (int64_t d : shape) dims.d[dims.nbDims++] = d;
    return net.addConstant(dims, DataType::kFLOAT, t.data());
}

/// x [8, 3, 16, 16] -> Conv 3x3 (8) -> Relu -> Conv 3x3 (8) -> y: the feature map itself, so the error
/// measure sees every value rather than a softmax's few.
void buildCnn(NetworkDefinition& net) {
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{8, 3, 16, 16});
    ILayer* c1 = net.addConvolution(*x, *constant(net, {8, 3, 3, 3}, 0.4, 1), constant(net, {8}, 0.1, 2), {1, 1}, {1, 1, 1, 1});
    ILayer* r1 = net.addActivation(*c1->getOutput(0), ActivationType::kRELU);
    ILayer* c2 = net.addConvolution(*r1->getOutput(0), *constant(net, {8, 8, 3, 3}, 0.2, 3), nullptr, {1, 1}, {1, 1, 1, 1});
    c2->getOutput(0)->setName("y");
    net.markOutput(*c2->getOutput(0));
}

/// x [128, 32] -> MatMul [32, 64] + b -> Relu -> MatMul [64, 10] -> y (logits).
void buildMlp(NetworkDefinition& net) {
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{128, 32});
    ILayer* m1 = net.addMatrixMultiply(*x, *constant(net, {32, 64}, 0.3, 4));
    ILayer* b1 = net.addElementWise(*m1->getOutput(0), *constant(net, {64}, 0.1, 5), ElementWiseOperation::kSUM);
    ILayer* r1 = net.addActivation(*b1->getOutput(0), ActivationType::kRELU);
    ILayer* m2 = net.addMatrixMultiply(*r1->getOutput(0), *constant(net, {64, 10}, 0.3, 6));
    m2->getOutput(0)->setName("y");
    net.markOutput(*m2->getOutput(0));
}

std::vector<double> toDoubles(const Tensor& t) { return t.toDoubleVector(); }

struct Int8Result {
    test::EngineRun fp32, int8;
};

Int8Result runBoth(void (*build)(NetworkDefinition&), const Shape& inputShape, IInt8Calibrator* calibrator,
                   CapturingLogger& logger) {
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    build(*net);
    std::map<std::string, Tensor> inputs = {{"x", test::randomTensor(DataType::kFLOAT, inputShape, -1.0, 1.0, 77)}};
    Int8Result result;
    auto fp32 = builder->createBuilderConfig();
    result.fp32 = test::buildAndRun(*builder, *net, *fp32, inputs, logger);
    auto int8 = builder->createBuilderConfig();
    int8->setFlag(BuilderFlag::kINT8);
    int8->setInt8Calibrator(calibrator);
    result.int8 = test::buildAndRun(*builder, *net, *int8, inputs, logger);
    return result;
}

TEST(Int8Calibration, CalibratedNetworksStayWithinInt8ErrorOfFp32) {
    // Entropy calibration compares histograms of 2048 bins: like TensorRT's, it needs tens of thousands
    // of values per tensor (TensorRT's guidance is about 500 images), or sparse bins make it clip hard.
    constexpr int32_t kBatches = 32;
    for (auto algorithm : {CalibrationAlgoType::kMINMAX, CalibrationAlgoType::kENTROPY_2, CalibrationAlgoType::kPERCENTILE}) {
        for (bool cnn : {true, false}) {
            CapturingLogger logger;
            RandomCalibrator calibrator(algorithm, kBatches);
            auto r = cnn ? runBoth(buildCnn, {8, 3, 16, 16}, &calibrator, logger) : runBoth(buildMlp, {128, 32}, &calibrator, logger);
            const std::string what = std::string(calibrationAlgoName(algorithm)) + (cnn ? " CNN" : " MLP");
            ASSERT_TRUE(r.fp32.ok && r.int8.ok) << what;
            EXPECT_EQ(calibrator.given, kBatches) << what;
            const double error = test::relativeL2(r.int8.outputs[0], toDoubles(r.fp32.outputs[0]));
            EXPECT_LT(error, 2e-2) << what;
            EXPECT_GT(error, 0.0) << what << ": the INT8 engine computed exactly FP32's values";
            EXPECT_NE(r.int8.layerJson.find("QuantizeLinear"), std::string::npos) << what;
            EXPECT_EQ(r.fp32.layerJson.find("QuantizeLinear"), std::string::npos) << what;
            EXPECT_EQ(calibrator.cacheOut.rfind(std::string("KILN-1-") + calibrationAlgoName(algorithm) + "\n", 0), 0u)
                << calibrator.cacheOut;
        }
    }
}

TEST(Int8Calibration, TheWrittenCacheSkipsCalibrationAndGivesTheSameEngine) {
    CapturingLogger logger;
    RandomCalibrator first(CalibrationAlgoType::kENTROPY_2, 4);
    auto calibrated = runBoth(buildMlp, {128, 32}, &first, logger);
    ASSERT_TRUE(calibrated.int8.ok);
    RandomCalibrator second(CalibrationAlgoType::kENTROPY_2, 4);
    second.cacheIn = first.cacheOut;
    auto cached = runBoth(buildMlp, {128, 32}, &second, logger);
    ASSERT_TRUE(cached.int8.ok);
    EXPECT_EQ(second.given, 0);
    EXPECT_EQ(test::relativeL2(cached.int8.outputs[0], toDoubles(calibrated.int8.outputs[0])), 0.0);
    // A cache of another algorithm is not used: calibration runs again.
    RandomCalibrator other(CalibrationAlgoType::kMINMAX, 4);
    other.cacheIn = first.cacheOut;
    ASSERT_TRUE(runBoth(buildMlp, {128, 32}, &other, logger).int8.ok);
    EXPECT_EQ(other.given, 4);
}

TEST(Int8Calibration, ProblemsAreClearErrorsOrWarnings) {
    {  // No data and no cache.
        CapturingLogger logger;
        RandomCalibrator empty(CalibrationAlgoType::kENTROPY_2, 0);
        auto r = runBoth(buildMlp, {128, 32}, &empty, logger);
        EXPECT_FALSE(r.int8.ok);
        ASSERT_FALSE(logger.errors.empty());
        EXPECT_NE(logger.errors.back().find("no batch"), std::string::npos) << logger.errors.back();
    }
    {  // A damaged cache is an error naming the line, not a silent recalibration.
        CapturingLogger logger;
        RandomCalibrator damaged(CalibrationAlgoType::kENTROPY_2, 4);
        damaged.cacheIn = "KILN-1-EntropyCalibration2\nx: 3f80\n";
        auto r = runBoth(buildMlp, {128, 32}, &damaged, logger);
        EXPECT_FALSE(r.int8.ok);
        ASSERT_FALSE(logger.errors.empty());
        EXPECT_NE(logger.errors.back().find("line 2"), std::string::npos) << logger.errors.back();
        EXPECT_EQ(damaged.given, 0);
    }
    {  // Names of another network: a warning; tensors without a scale stay unquantized.
        CapturingLogger logger;
        RandomCalibrator foreign(CalibrationAlgoType::kENTROPY_2, 4);
        foreign.cacheIn = "TRT-8601-EntropyCalibration2\nsomething_else: 3c000000\n";
        auto r = runBoth(buildMlp, {128, 32}, &foreign, logger);
        ASSERT_TRUE(r.int8.ok);
        EXPECT_EQ(r.int8.layerJson.find("QuantizeLinear"), std::string::npos);
        bool warned = false;
        for (const std::string& w : logger.at(ILogger::Severity::kWARNING)) warned = warned || w.find("something_else") != std::string::npos;
        EXPECT_TRUE(warned);
    }
    {  // kINT8 without a calibrator changes nothing.
        CapturingLogger logger;
        auto r = runBoth(buildMlp, {128, 32}, nullptr, logger);
        ASSERT_TRUE(r.int8.ok);
        EXPECT_EQ(r.int8.layerJson.find("QuantizeLinear"), std::string::npos);
        EXPECT_EQ(test::relativeL2(r.int8.outputs[0], toDoubles(r.fp32.outputs[0])), 0.0);
    }
}

TEST(Int8Calibration, ExplicitlyQuantizedNetworksAreLeftAlone) {
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4, 8});
    const float scale = 0.05f;
    const int8_t zero = 0;
    ITensor* s = net->addConstant(Dims{}, DataType::kFLOAT, &scale);
    ITensor* z = net->addConstant(Dims{}, DataType::kINT8, &zero);
    ILayer* q = net->addLayer("QuantizeLinear", {x, s, z});
    ILayer* dq = net->addLayer("DequantizeLinear", {q->getOutput(0), s, z});
    ILayer* mm = net->addMatrixMultiply(*dq->getOutput(0), *constant(*net, {8, 3}, 0.5, 9));
    net->markOutput(*mm->getOutput(0));
    RandomCalibrator calibrator(CalibrationAlgoType::kENTROPY_2, 4);
    auto config = builder->createBuilderConfig();
    config->setFlag(BuilderFlag::kINT8);
    config->setInt8Calibrator(&calibrator);
    auto r = test::buildAndRun(*builder, *net, *config, {{"x", test::randomTensor(DataType::kFLOAT, {4, 8}, -1, 1, 3)}}, logger);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(calibrator.given, 0);
    EXPECT_TRUE(calibrator.cacheOut.empty());
}

}  // namespace
}  // namespace kiln
