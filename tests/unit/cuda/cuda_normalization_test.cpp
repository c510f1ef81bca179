// The CUDA LayerNormalization and RMSNormalization against the CPU backend on random data: every axis
// (negative ones too), float / float16 / double, with and without B, a single-value Scale, and
// LayerNormalization's Mean and InvStdDev outputs; the float16 warp-per-row kernel's 16-byte runs and
// their fallbacks (row lengths not a multiple of 8, misaligned addresses) against a double reference.

#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaNormalizationTest = CudaTest;

struct NormCase {
    Shape shape;
    int64_t axis;
};

const std::vector<NormCase> kNormCases = {
    {{2, 3, 4, 5}, 0}, {{2, 3, 4, 5}, 1}, {{2, 3, 4, 5}, -1}, {{2, 3, 4, 5}, -2},
    {{4, 300}, 1},     {{3, 1}, -1},      {{6}, 0},
    // One warp per row up to 1024 elements (a row count that leaves a block's last warps idle), one block
    // per row past it.
    {{19, 768}, -1},   {{2, 1024}, 1},    {{2, 1100}, 1},
};

Shape normalizedShape(const NormCase& c) {
    const int64_t axis = c.axis < 0 ? c.axis + static_cast<int64_t>(c.shape.size()) : c.axis;
    return Shape(c.shape.begin() + axis, c.shape.end());
}

double tolerance(DataType type) {
    return type == DataType::kHALF ? 5e-3 : type == DataType::kFLOAT ? 1e-4 : 1e-10;
}

TEST_F(CudaNormalizationTest, LayerAndRmsNormalizationOverEveryAxisMatchCpu) {
    uint32_t seed = 1;
    for (const char* op : {"LayerNormalization", "RMSNormalization"}) {
        const bool layer = std::string(op) == "LayerNormalization";
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
            for (const NormCase& c : kNormCases) {
                for (bool withBias : {false, true}) {
                    if (withBias && !layer) continue;
                    // A mean away from zero: the two-pass variance must not lose it.
                    Tensor x = test::randomTensor(type, c.shape, 1.0, 4.0, seed++);
                    Tensor scale = test::randomTensor(type, normalizedShape(c), 0.5, 1.5, seed++);
                    Tensor bias = test::randomTensor(type, normalizedShape(c), -1.0, 1.0, seed++);
                    AttributeMap attrs;
                    attrs.set("axis", c.axis);
                    attrs.set("epsilon", 1e-3f);
                    std::vector<const Tensor*> inputs = {&x, &scale};
                    if (withBias) inputs.push_back(&bias);
                    expectMatchesCpu(*mBackend, mStream, op, inputs, attrs, tolerance(type), tolerance(type),
                                     std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(c.shape) +
                                         " axis " + std::to_string(c.axis) + (withBias ? " with B" : ""));
                }
            }
        }
    }
}

TEST_F(CudaNormalizationTest, HalfRowsInSixteenByteRunsAndTheirFallbacksMatchDoubleReference) {
    struct Case {
        int64_t rows, cols;
        bool oneValueParameters;
        size_t misalign;  // 0, 1: X, 2: Y, 3: Scale, 4: B, one element off a 16-byte boundary
    };
    const std::vector<Case> cases = {
        {37, 768, false, 0}, {9, 776, false, 0}, {5, 136, false, 0}, {11, 200, false, 0}, {3, 1024, false, 0},
        {6, 256, true, 0},   {7, 770, false, 0}, {4, 300, false, 0}, {5, 520, false, 0},  {5, 700, false, 0},
        {8, 768, false, 1},  {8, 768, false, 2}, {8, 768, false, 3}, {8, 768, false, 4},  // one operand misaligned
    };
    uint32_t seed = 900;
    for (const Case& c : cases) {
        Tensor x = test::randomTensor(DataType::kHALF, {c.rows, c.cols}, -1.0, 3.0, seed++);
        const Shape parameterShape = c.oneValueParameters ? Shape{1} : Shape{c.cols};
        Tensor scale = test::randomTensor(DataType::kHALF, parameterShape, 0.5, 1.5, seed++);
        Tensor bias = test::randomTensor(DataType::kHALF, parameterShape, -1.0, 1.0, seed++);
        std::vector<double> reference(static_cast<size_t>(c.rows * c.cols));
        for (int64_t r = 0; r < c.rows; ++r) {
            double mean = 0, spread = 0;
            for (int64_t j = 0; j < c.cols; ++j) mean += x.elementAsDouble(r * c.cols + j);
            mean /= static_cast<double>(c.cols);
            for (int64_t j = 0; j < c.cols; ++j) spread += std::pow(x.elementAsDouble(r * c.cols + j) - mean, 2);
            const double inverse = 1.0 / std::sqrt(spread / static_cast<double>(c.cols) + 1e-5);
            for (int64_t j = 0; j < c.cols; ++j) {
                const int64_t p = c.oneValueParameters ? 0 : j;
                reference[static_cast<size_t>(r * c.cols + j)] =
                    (x.elementAsDouble(r * c.cols + j) - mean) * inverse * scale.elementAsDouble(p) +
                    bias.elementAsDouble(p);
            }
        }
        std::vector<size_t> offsets;
        if (c.misalign == 1) offsets = {2, 0, 0};
        if (c.misalign == 2) offsets = {0, 0, 0, 2};
        if (c.misalign == 3) offsets = {0, 2, 0, 0};
        if (c.misalign == 4) offsets = {0, 0, 2, 0};
        const std::string label = "LayerNormalization float16 " + std::to_string(c.rows) + "x" +
                                  std::to_string(c.cols) + (c.oneValueParameters ? " one-value Scale and B" : "") +
                                  (c.misalign ? " misaligned" : "");
        auto gpu = runOnCuda(*mBackend, mStream, "LayerNormalization", {&x, &scale, &bias}, {DataType::kHALF},
                             {Shape{c.rows, c.cols}}, {}, "", offsets);
        ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
        // Float math, one rounding to float16 of results within a few units.
        EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, 2e-3, 4e-3), "")
            << label << " (tactic " << gpu->tactic << ")";
    }
}

TEST_F(CudaNormalizationTest, ASingleValueScaleAndBiasBroadcast) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {3, 8}, -2.0, 2.0, 50);
    Tensor scale = test::randomTensor(DataType::kFLOAT, {1}, 0.5, 1.5, 51);
    Tensor bias = test::randomTensor(DataType::kFLOAT, {1, 1}, -1.0, 1.0, 52);
    expectMatchesCpu(*mBackend, mStream, "LayerNormalization", {&x, &scale, &bias}, {}, 1e-4, 1e-4,
                     "LayerNormalization with one-value Scale and B");
    expectMatchesCpu(*mBackend, mStream, "RMSNormalization", {&x, &scale}, {}, 1e-4, 1e-4,
                     "RMSNormalization with a one-value Scale");
}

TEST_F(CudaNormalizationTest, LayerNormalizationMeanAndInvStdDevMatchCpu) {
    uint32_t seed = 100;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const NormCase& c : kNormCases) {
            Tensor x = test::randomTensor(type, c.shape, -3.0, 5.0, seed++);
            Tensor scale = test::randomTensor(type, normalizedShape(c), 0.5, 1.5, seed++);
            Tensor bias = test::randomTensor(type, normalizedShape(c), -1.0, 1.0, seed++);
            AttributeMap attrs;
            attrs.set("axis", c.axis);
            const Tensor xf = convertTensor(x, DataType::kFLOAT);
            const Tensor sf = convertTensor(scale, DataType::kFLOAT);
            const Tensor bf = convertTensor(bias, DataType::kFLOAT);
            std::vector<Tensor> reference = cpuReference("LayerNormalization", {&xf, &sf, &bf}, 3, attrs);
            ASSERT_EQ(reference.size(), 3u);
            const std::string label = std::string("LayerNormalization ") + dataTypeName(type) + " " +
                                      shapeLabel(c.shape) + " axis " + std::to_string(c.axis);
            auto gpu = runOnCuda(*mBackend, mStream, "LayerNormalization", {&x, &scale, &bias},
                                 {type, DataType::kFLOAT, DataType::kFLOAT},
                                 {reference[0].shape(), reference[1].shape(), reference[2].shape()}, attrs);
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            const double tol = tolerance(type);
            for (size_t i = 0; i < 3; ++i)
                EXPECT_EQ(test::compareWithReference(gpu->outputs[i], reference[i].toDoubleVector(), tol, tol), "")
                    << label << " output " << i;
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
