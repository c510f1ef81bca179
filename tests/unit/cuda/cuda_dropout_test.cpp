// The CUDA Dropout at inference against the CPU backend: the output is the input, the optional mask all
// true, with and without a ratio; training mode (a training_mode input that is not the constant false)
// is refused with the reason.

#include <gtest/gtest.h>

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

TEST_F(CudaDropoutTest, RefusesTrainingMode) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {4}, -1.0, 1.0, 5);
    Tensor ratio = Tensor::scalarFloat(0.5f);
    Tensor training = Tensor::allocate(DataType::kBOOL, {});
    auto gpu = runOnCuda(*mBackend, mStream, "Dropout", {&x, &ratio, &training}, {DataType::kFLOAT}, {Shape{4}}, {});
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("training_mode"), std::string::npos) << gpu.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
