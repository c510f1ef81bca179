// The CUDA Dropout against the CPU backend at inference (the output is the input, the optional mask all
// true, with and without a ratio), and in training mode, which the CPU backend does not run: with
// training_mode fed at run time (read on the device) false, ratio 0, the default ratio, ratio 1, and
// the fraction and scale of what a random mask keeps.

#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaDropoutTest = CudaTest;

TEST_F(CudaDropoutTest, InferenceIsIdentityWithAMaskOfOnes) {
    uint32_t seed = 1;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        for (const Shape& shape : {Shape{3, 4, 5}, Shape{7}, Shape{0, 2}}) {
            Tensor x = test::randomTensor(type, shape, -4.0, 4.0, seed++);
            Tensor ratio = convertTensor(Tensor::scalarFloat(0.3f), type);
            for (bool withRatio : {false, true}) {
                std::vector<const Tensor*> inputs = {&x};
                if (withRatio) inputs.push_back(&ratio);
                const std::string label = std::string("Dropout ") + dataTypeName(type) + " " + shapeLabel(shape) +
                                          (withRatio ? " with ratio" : "");
                std::vector<Tensor> reference = cpuReference("Dropout", inputs, 2, {});
                ASSERT_EQ(reference.size(), 2u) << label;
                auto gpu = runOnCuda(*mBackend, mStream, "Dropout", inputs, {type, DataType::kBOOL},
                                     {shape, shape}, {});
                ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference[0].toDoubleVector(), 0.0, 0.0), "")
                    << label;
                EXPECT_EQ(test::compareWithReference(gpu->outputs[1], reference[1].toDoubleVector(), 0.0, 0.0), "")
                    << label << " mask";
            }
        }
    }
}

Tensor boolScalar(bool v) {
    Tensor t = Tensor::allocate(DataType::kBOOL, {});
    *t.data<bool>() = v;
    return t;
}

/// Dropout with a training_mode input (fed at run time, so read on the device) and both outputs.
Expected<CudaRun> runTraining(Backend& backend, Stream stream, const Tensor& x, const Tensor* ratio, bool training,
                              const AttributeMap& attrs) {
    Tensor mode = boolScalar(training);
    return runOnCuda(backend, stream, "Dropout", {&x, ratio, &mode}, {x.dtype(), DataType::kBOOL}, {x.shape(), x.shape()},
                     attrs);
}

TEST_F(CudaDropoutTest, RuntimeTrainingModeFalseIsIdentity) {
    uint32_t seed = 50;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        Tensor x = test::randomTensor(type, {5, 6}, -3.0, 3.0, seed++);
        Tensor ratio = convertTensor(Tensor::scalarFloat(0.7f), type);
        for (const Tensor* r : {static_cast<const Tensor*>(nullptr), static_cast<const Tensor*>(&ratio)}) {
            const std::string label = std::string("Dropout training_mode=false ") + dataTypeName(type);
            auto gpu = runTraining(*mBackend, mStream, x, r, false, {});
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], x.toDoubleVector(), 0.0, 0.0), "") << label;
            EXPECT_EQ(test::compareWithReference(gpu->outputs[1], std::vector<double>(30, 1.0), 0.0, 0.0), "")
                << label << " mask";
        }
    }
}

TEST_F(CudaDropoutTest, TrainingWithRatioZeroKeepsEverything) {
    uint32_t seed = 60;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        Tensor x = test::randomTensor(type, {3, 4, 5}, -3.0, 3.0, seed++);
        Tensor ratio = convertTensor(Tensor::scalarFloat(0.0f), type);
        auto gpu = runTraining(*mBackend, mStream, x, &ratio, true, {});
        ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
        EXPECT_EQ(test::compareWithReference(gpu->outputs[0], x.toDoubleVector(), 0.0, 0.0), "") << dataTypeName(type);
        EXPECT_EQ(test::compareWithReference(gpu->outputs[1], std::vector<double>(60, 1.0), 0.0, 0.0), "")
            << dataTypeName(type) << " mask";
    }
}

TEST_F(CudaDropoutTest, TrainingDropsAboutRatioAndScalesTheRest) {
    const int64_t n = 20000;
    Tensor x = test::randomTensor(DataType::kFLOAT, {n}, 0.5, 2.0, 70);
    for (float r : {0.25f, 0.5f, 0.9f}) {
        Tensor ratio = Tensor::scalarFloat(r);
        AttributeMap attrs;
        attrs.set("seed", 3.0f);
        auto gpu = runTraining(*mBackend, mStream, x, &ratio, true, attrs);
        ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
        const std::vector<double> y = gpu->outputs[0].toDoubleVector();
        const std::vector<double> mask = gpu->outputs[1].toDoubleVector();
        const std::vector<double> in = x.toDoubleVector();
        int64_t kept = 0;
        for (int64_t i = 0; i < n; ++i) {
            const size_t k = static_cast<size_t>(i);
            if (mask[k] != 0) {
                ++kept;
                EXPECT_NEAR(y[k], in[k] / (1.0 - r), 1e-5 * std::fabs(in[k] / (1.0 - r))) << "element " << i;
            } else {
                EXPECT_EQ(y[k], 0.0) << "element " << i;
            }
        }
        // A binomial count: 6 standard deviations of slack.
        const double expected = static_cast<double>(n) * (1.0 - r);
        EXPECT_NEAR(static_cast<double>(kept), expected, 6.0 * std::sqrt(expected * r)) << "ratio " << r;
        // The same seed gives the same mask in a new kernel.
        auto again = runTraining(*mBackend, mStream, x, &ratio, true, attrs);
        ASSERT_TRUE(again.isOk()) << again.status().message();
        EXPECT_EQ(test::compareWithReference(again->outputs[1], mask, 0.0, 0.0), "") << "ratio " << r;
    }
}

TEST_F(CudaDropoutTest, TrainingWithDefaultRatioAndRatioOne) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {4000}, 1.0, 2.0, 80);
    auto half = runTraining(*mBackend, mStream, x, nullptr, true, {});
    ASSERT_TRUE(half.isOk()) << half.status().message();
    double kept = 0;
    for (double m : half->outputs[1].toDoubleVector()) kept += m;
    EXPECT_NEAR(kept, 2000.0, 6.0 * std::sqrt(1000.0)) << "default ratio 0.5";
    Tensor one = Tensor::scalarFloat(1.0f);
    auto all = runTraining(*mBackend, mStream, x, &one, true, {});
    ASSERT_TRUE(all.isOk()) << all.status().message();
    EXPECT_EQ(test::compareWithReference(all->outputs[0], std::vector<double>(4000, 0.0), 0.0, 0.0), "");
    EXPECT_EQ(test::compareWithReference(all->outputs[1], std::vector<double>(4000, 0.0), 0.0, 0.0), "");
}

TEST_F(CudaDropoutTest, RefusesTrainingModeOnIntegers) {
    Tensor x = test::randomTensor(DataType::kINT32, {4}, -3.0, 3.0, 5);
    Tensor mode = boolScalar(true);
    auto gpu = runOnCuda(*mBackend, mStream, "Dropout", {&x, nullptr, &mode}, {DataType::kINT32}, {Shape{4}}, {});
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("int32"), std::string::npos) << gpu.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
