// ai.onnx.ml Binarizer, ArrayFeatureExtractor and TreeEnsemble on the CUDA backend against the CPU
// backend: float, double, int32 and int64 data of several ranks, thresholds between and on the
// values and beyond int64's range, indices that repeat, come in any order, and are refused when out
// of range; a forest of LEQ, GT, NEQ and set-membership nodes with NaN features, a shared leaf and
// two targets, under each aggregate function and the post transforms defined on any score.

#include <gtest/gtest.h>

#include <limits>

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
        // Thresholds between and on the values, and beyond int64's range (every integer below / above).
        for (float threshold : {0.0f, 1.5f, -2.0f, 3.0f, 1e19f, -1e19f}) {
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

/// Two trees over three features, two targets; leaf 0 is reached from both trees.
///   tree 0: x0 <= 0.5 ? (x1 in {-0.5, 1.5} ? leaf 1 : leaf 2) : leaf 0
///   tree 1: x2 > 0 (NaN: true) ? leaf 3 : (x0 != 1.5 ? leaf 0 : leaf 4)
AttributeMap forest(DataType type, int64_t aggregate, int64_t postTransform) {
    auto tensorOf = [&](const std::vector<double>& values) {
        Tensor t = Tensor::allocate(DataType::kDOUBLE, {static_cast<int64_t>(values.size())});
        for (size_t i = 0; i < values.size(); ++i) t.data<double>()[i] = values[i];
        return convertTensor(t, type);
    };
    AttributeMap a;
    a.set("nodes_featureids", std::vector<int64_t>{0, 1, 2, 0});
    Tensor modes = Tensor::allocate(DataType::kUINT8, {4});
    const uint8_t modeValues[4] = {0, 6, 3, 5};  // BRANCH_LEQ, BRANCH_MEMBER, BRANCH_GT, BRANCH_NEQ
    for (int i = 0; i < 4; ++i) modes.data<uint8_t>()[i] = modeValues[i];
    a.set("nodes_modes", modes);
    a.set("nodes_splits", tensorOf({0.5, 0.0, 0.0, 1.5}));
    a.set("nodes_truenodeids", std::vector<int64_t>{1, 1, 3, 0});
    a.set("nodes_trueleafs", std::vector<int64_t>{0, 1, 1, 1});
    a.set("nodes_falsenodeids", std::vector<int64_t>{0, 2, 3, 4});
    a.set("nodes_falseleafs", std::vector<int64_t>{1, 1, 0, 1});
    a.set("nodes_missing_value_tracks_true", std::vector<int64_t>{0, 0, 1, 0});
    a.set("membership_values", tensorOf({-0.5, 1.5, std::numeric_limits<double>::quiet_NaN()}));
    a.set("tree_roots", std::vector<int64_t>{0, 2});
    a.set("leaf_targetids", std::vector<int64_t>{0, 1, 0, 1, 1});
    a.set("leaf_weights", tensorOf({1.25, -2.5, 0.75, 3.0, -1.0}));
    a.set("n_targets", int64_t{2});
    a.set("aggregate_function", aggregate);
    a.set("post_transform", postTransform);
    return a;
}

TEST_F(CudaMlFeaturesTest, TreeEnsembleMatchesCpu) {
    // Features from a grid the splits and the set hit and miss, and some NaNs.
    const std::vector<double> grid = {-1.5, -0.5, 0.0, 0.5, 1.5, 2.5, std::numeric_limits<double>::quiet_NaN()};
    std::mt19937 rng(5);
    Tensor values = Tensor::allocate(DataType::kDOUBLE, {17, 3});
    for (int64_t i = 0; i < values.elementCount(); ++i) values.data<double>()[i] = grid[rng() % grid.size()];
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE}) {
        const Tensor x = convertTensor(values, type);
        for (int64_t aggregate : {0, 1, 2, 3})      // AVERAGE SUM MIN MAX
            for (int64_t post : {0, 1, 2, 3}) {     // NONE SOFTMAX LOGISTIC SOFTMAX_ZERO
                const AttributeMap attrs = forest(type, aggregate, post);
                test::SingleNodeRun ref = test::runSingleNode("TreeEnsemble", {&x}, 1, attrs, kMl);
                ASSERT_TRUE(ref.status) << ref.status.message();
                auto gpu = runOnCuda(*mBackend, mStream, "TreeEnsemble", {&x}, {type}, {ref.outputs[0].shape()}, attrs, kMl);
                ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
                EXPECT_EQ(test::compareWithReference(gpu->outputs[0], ref.outputs[0].toDoubleVector(), 1e-6, 1e-6), "")
                    << dataTypeName(type) << " aggregate " << aggregate << " post_transform " << post;
            }
    }
}

}  // namespace
}  // namespace kiln::cudatest
