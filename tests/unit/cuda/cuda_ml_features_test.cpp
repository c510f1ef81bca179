// ai.onnx.ml Binarizer and ArrayFeatureExtractor on the CUDA backend against the CPU backend, on
// float, double, int32 and int64 data of several ranks, thresholds between and on the values, and
// indices that repeat, come in any order, and are refused when out of range.

#include <gtest/gtest.h>

#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

constexpr const char* kMl = "ai.onnx.ml";

class CudaMlFeaturesTest : public CudaTest {
protected:
    void expectMatchesCpu(const std::string& opType, const std::vector<const Tensor*>& inputs, const AttributeMap& attrs,
                          const std::string& label) {
        test::SingleNodeRun ref = test::runSingleNode(opType, inputs, 1, attrs, kMl);
        ASSERT_TRUE(ref.status) << label << ": CPU reference: " << ref.status.message();
        auto gpu = runOnCuda(*mBackend, mStream, opType, inputs, {ref.outputs[0].dtype()}, {ref.outputs[0].shape()}, attrs,
                             kMl);
        ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
        EXPECT_EQ(test::compareWithReference(gpu->outputs[0], ref.outputs[0].toDoubleVector(), 0, 0), "")
            << label << " (tactic " << gpu->tactic << ")";
    }
};

const std::vector<DataType> kTypes = {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64};

TEST_F(CudaMlFeaturesTest, BinarizerMatchesCpu) {
    uint32_t seed = 1;
    for (DataType type : kTypes) {
        for (float threshold : {0.0f, 1.5f, -2.0f, 3.0f}) {
            const Shape shape = seed % 2 ? Shape{3, 7} : Shape{2, 3, 5};
            const Tensor x = test::randomTensor(type, shape, -5.0, 5.0, seed++);
            AttributeMap attrs;
            attrs.set("threshold", threshold);
            expectMatchesCpu("Binarizer", {&x}, attrs,
                             std::string("Binarizer ") + dataTypeName(type) + " threshold " + std::to_string(threshold));
        }
    }
}

TEST_F(CudaMlFeaturesTest, ArrayFeatureExtractorMatchesCpu) {
    uint32_t seed = 20;
    for (DataType type : kTypes) {
        for (const Shape& shape : {Shape{6}, Shape{4, 5}, Shape{2, 3, 7}}) {
            const Tensor x = test::randomTensor(type, shape, -9.0, 9.0, seed++);
            const int64_t width = shape.back();
            const Tensor indices = Tensor::fromInt64({width - 1, 0, 2 % width, width - 1}, {4});
            expectMatchesCpu("ArrayFeatureExtractor", {&x, &indices}, AttributeMap{},
                             std::string("ArrayFeatureExtractor ") + dataTypeName(type) + " " + shapeLabel(shape));
        }
    }
}

TEST_F(CudaMlFeaturesTest, ArrayFeatureExtractorRefusesAnIndexOutOfRange) {
    const Tensor x = test::randomTensor(DataType::kFLOAT, {3, 4}, -1.0, 1.0, 40);
    const Tensor indices = Tensor::fromInt64({1, 4}, {2});
    auto gpu = runOnCuda(*mBackend, mStream, "ArrayFeatureExtractor", {&x, &indices}, {DataType::kFLOAT}, {{3, 2}},
                         AttributeMap{}, kMl);
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("index 4"), std::string::npos) << gpu.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
