// The CUDA channel and spatial normalizations (normalization_channels.cu) against the CPU backend on
// random data, per type (float, float16, bfloat16, double): BatchNormalization (inference, parameters of
// another type than X), InstanceNormalization, GroupNormalization, MeanVarianceNormalization (default and
// explicit axes), LpNormalization (p 1 and 2, negative axes) and LRN (odd and even sizes).

#include <gtest/gtest.h>

#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaChannelNormTest = CudaTest;

const std::vector<DataType> kTypes = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE};

double tolerance(DataType type) {
    return type == DataType::kHALF ? 1e-2 : type == DataType::kBF16 ? 3e-2 : type == DataType::kFLOAT ? 1e-4 : 1e-10;
}

std::string label(const char* op, DataType type, const Shape& shape) {
    return std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(shape);
}

TEST_F(CudaChannelNormTest, BatchNormalizationMatchesCpu) {
    uint32_t seed = 1;
    for (DataType type : kTypes) {
        for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{4, 6}, Shape{1, 2, 3, 4, 5}, Shape{3, 5, 7}}) {
            const Shape channels{shape[1]};
            Tensor x = test::randomTensor(type, shape, -3.0, 3.0, seed++);
            Tensor scale = test::randomTensor(type, channels, 0.5, 1.5, seed++);
            Tensor bias = test::randomTensor(type, channels, -1.0, 1.0, seed++);
            Tensor mean = test::randomTensor(type, channels, -1.0, 1.0, seed++);
            Tensor var = test::randomTensor(type, channels, 0.5, 2.0, seed++);
            AttributeMap attrs;
            attrs.set("epsilon", 1e-3f);
            expectMatchesCpu(*mBackend, mStream, "BatchNormalization", {&x, &scale, &bias, &mean, &var}, attrs,
                             tolerance(type), tolerance(type), label("BatchNormalization", type, shape));
        }
    }
}

TEST_F(CudaChannelNormTest, BatchNormalizationTakesFloatParametersForNarrowData) {
    const Shape shape{2, 4, 3, 3};
    Tensor x = test::randomTensor(DataType::kHALF, shape, -3.0, 3.0, 40);
    Tensor scale = test::randomTensor(DataType::kFLOAT, {4}, 0.5, 1.5, 41);
    Tensor bias = test::randomTensor(DataType::kFLOAT, {4}, -1.0, 1.0, 42);
    Tensor mean = test::randomTensor(DataType::kFLOAT, {4}, -1.0, 1.0, 43);
    Tensor var = test::randomTensor(DataType::kFLOAT, {4}, 0.5, 2.0, 44);
    expectMatchesCpu(*mBackend, mStream, "BatchNormalization", {&x, &scale, &bias, &mean, &var}, {}, 1e-2, 1e-2,
                     "BatchNormalization float16 X, float parameters");
}

TEST_F(CudaChannelNormTest, InstanceAndGroupNormalizationMatchCpu) {
    uint32_t seed = 100;
    struct GroupCase {
        Shape shape;
        int64_t groups;
    };
    const std::vector<GroupCase> cases = {
        {{2, 6, 4, 5}, 3}, {{3, 4, 2, 2}, 2}, {{1, 8, 300}, 1}, {{2, 4, 3, 2, 2}, 4}, {{2, 3, 1}, 3}};
    for (DataType type : kTypes) {
        for (const GroupCase& c : cases) {
            // A mean away from zero: the two-pass variance must not lose it.
            Tensor x = test::randomTensor(type, c.shape, 1.0, 4.0, seed++);
            Tensor scale = test::randomTensor(type, {c.shape[1]}, 0.5, 1.5, seed++);
            Tensor bias = test::randomTensor(type, {c.shape[1]}, -1.0, 1.0, seed++);
            AttributeMap attrs;
            attrs.set("epsilon", 1e-2f);
            expectMatchesCpu(*mBackend, mStream, "InstanceNormalization", {&x, &scale, &bias}, attrs, tolerance(type),
                             tolerance(type), label("InstanceNormalization", type, c.shape));
            attrs.set("num_groups", c.groups);
            expectMatchesCpu(*mBackend, mStream, "GroupNormalization", {&x, &scale, &bias}, attrs, tolerance(type),
                             tolerance(type),
                             label("GroupNormalization", type, c.shape) + " groups " + std::to_string(c.groups));
        }
    }
}

TEST_F(CudaChannelNormTest, MeanVarianceNormalizationMatchesCpu) {
    uint32_t seed = 200;
    struct MvnCase {
        Shape shape;
        std::vector<int64_t> axes;  // empty: the default [0, 2, 3]
    };
    const std::vector<MvnCase> cases = {
        {{3, 3, 3, 1}, {}}, {{2, 4, 5, 6}, {}}, {{2, 4, 5}, {1}}, {{2, 4, 5}, {-1, 0}}, {{2, 3, 4, 5}, {0, 1, 2, 3}}};
    for (DataType type : kTypes) {
        for (const MvnCase& c : cases) {
            Tensor x = test::randomTensor(type, c.shape, -2.0, 5.0, seed++);
            AttributeMap attrs;
            if (!c.axes.empty()) attrs.set("axes", c.axes);
            expectMatchesCpu(*mBackend, mStream, "MeanVarianceNormalization", {&x}, attrs, tolerance(type),
                             tolerance(type),
                             label("MeanVarianceNormalization", type, c.shape) + " axes " +
                                 std::to_string(c.axes.size()));
        }
    }
}

TEST_F(CudaChannelNormTest, LpNormalizationMatchesCpu) {
    uint32_t seed = 300;
    for (DataType type : kTypes) {
        for (int64_t p : {1, 2}) {
            for (int64_t axis : {0, 1, -1, -3}) {
                const Shape shape{3, 4, 5};
                Tensor x = test::randomTensor(type, shape, -2.0, 2.0, seed++);
                AttributeMap attrs;
                attrs.set("p", p);
                attrs.set("axis", axis);
                expectMatchesCpu(*mBackend, mStream, "LpNormalization", {&x}, attrs, tolerance(type), tolerance(type),
                                 label("LpNormalization", type, shape) + " p " + std::to_string(p) + " axis " +
                                     std::to_string(axis));
            }
        }
    }
}

TEST_F(CudaChannelNormTest, LrnMatchesCpu) {
    uint32_t seed = 400;
    for (DataType type : kTypes) {
        for (int64_t size : {1, 3, 4}) {
            const Shape shape{2, 5, 3, 4};
            Tensor x = test::randomTensor(type, shape, -2.0, 2.0, seed++);
            AttributeMap attrs;
            attrs.set("size", size);
            attrs.set("alpha", 2e-2f);
            attrs.set("beta", 0.6f);
            attrs.set("bias", 1.5f);
            // The CPU's LRN rounds its double results through float.
            const double tol = type == DataType::kDOUBLE ? 1e-6 : tolerance(type);
            expectMatchesCpu(*mBackend, mStream, "LRN", {&x}, attrs, tol, tol,
                             label("LRN", type, shape) + " size " + std::to_string(size));
        }
    }
}

TEST_F(CudaChannelNormTest, TrainingModeBatchNormalizationIsRefused) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {2, 3, 2, 2}, -1.0, 1.0, 7);
    Tensor p = test::randomTensor(DataType::kFLOAT, {3}, 0.5, 1.0, 8);
    AttributeMap attrs;
    attrs.set("training_mode", int64_t{1});
    auto run = runOnCuda(*mBackend, mStream, "BatchNormalization", {&x, &p, &p, &p, &p}, {DataType::kFLOAT},
                         {x.shape()}, attrs);
    ASSERT_FALSE(run.isOk());
    EXPECT_NE(run.status().message().find("training_mode"), std::string::npos) << run.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
