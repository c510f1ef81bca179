// The CUDA element-wise, activation, softmax and expand kernels against the CPU backend's, on random
// data and shapes: broadcasting of every kind, scalars, empty tensors, 1-sized dims, rank 8, and sizes
// that need many blocks of the grid-stride loops. The vectorized same-shape and [rows, C] op [C] paths
// of the binary ops (binary_map.cuh) against a double reference: counts with a tail, channel counts
// that do and do not divide the vector width, and misaligned addresses (the one-element fallback).

#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaElementwiseTest = CudaTest;

// float: one rounding of float math on each side (exp/tanh: a few ulp). float16: the GPU rounds its
// float result to half once (2^-11 relative), the reference is the float result on the same halves.
constexpr double kFloatRtol = 1e-5;
constexpr double kFloatAtol = 1e-6;
constexpr double kHalfRtol = 1e-2;
constexpr double kHalfAtol = 1e-3;

struct Tolerance {
    double rtol;
    double atol;
};
Tolerance elementwiseTolerance(DataType type) {
    return type == DataType::kHALF ? Tolerance{kHalfRtol, kHalfAtol} : Tolerance{kFloatRtol, kFloatAtol};
}

std::vector<std::pair<Shape, Shape>> binaryShapeCases() {
    std::vector<std::pair<Shape, Shape>> cases = {
        {{2, 3, 4}, {2, 3, 4}},                                // same shape
        {{2, 3, 4}, {}},                                       // scalar B
        {{}, {5}},                                             // scalar A
        {{}, {}},                                              // rank 0
        {{2, 3, 4}, {4}},                                      // trailing vector
        {{2, 1, 4}, {3, 1}},                                   // both broadcast
        {{1}, {7, 1, 5}},                                      // 1-element A of lower rank
        {{4, 1, 3, 1, 2}, {1, 5, 1, 6, 2}},                    // alternating
        {{3, 1, 2, 1, 2, 1, 2, 1}, {1, 2, 1, 2, 1, 2, 1, 2}},  // rank 8
        {{0, 3}, {3}},                                         // empty
        {{1, 1, 1}, {1}},                                      // all ones
        {{257, 1031}, {1031}},                                 // many blocks
        {{1 << 19, 3}, {1 << 19, 1}},                          // more blocks than the grid cap: grid-stride
    };
    std::mt19937 rng(20240611);
    for (int i = 0; i < 12; ++i) cases.push_back(randomBroadcastPair(rng, 6, 5));
    return cases;
}

TEST_F(CudaElementwiseTest, BinaryOpsMatchCpuWithBroadcasting) {
    uint32_t seed = 1;
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
            for (const auto& [shapeA, shapeB] : binaryShapeCases()) {
                Tensor a = test::randomTensor(type, shapeA, -2.0, 2.0, seed++);
                // Divisors stay away from 0, where a ratio's rounding would dominate the comparison.
                Tensor b = std::string(op) == "Div" ? test::randomTensor(type, shapeB, 0.5, 2.0, seed++)
                                                    : test::randomTensor(type, shapeB, -2.0, 2.0, seed++);
                Tolerance tol = elementwiseTolerance(type);
                expectMatchesCpu(*mBackend, mStream, op, {&a, &b}, {}, tol.rtol, tol.atol,
                                 std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(shapeA) + " with " +
                                     shapeLabel(shapeB));
            }
        }
    }
}

// The double-precision result of `op` on two stored values.
double binaryReference(const std::string& op, double a, double b) {
    if (op == "Add") return a + b;
    if (op == "Sub") return a - b;
    if (op == "Mul") return a * b;
    return a / b;
}

TEST_F(CudaElementwiseTest, VectorizedBinaryPathsAndTheirFallbacksMatchDoubleReference) {
    struct Case {
        Shape a, b;
        size_t misalign;  // 0, 1: input A, 2: the output, moved by one element from a 16-byte boundary
        const char* what;
    };
    const std::vector<Case> cases = {
        {{4, 1024}, {4, 1024}, 0, "same shape, a multiple of 8"},
        {{4099}, {4099}, 0, "same shape, a tail of 3"},
        {{3, 5, 7}, {3, 5, 7}, 0, "same shape, 105 elements"},
        {{7}, {7}, 0, "same shape, fewer elements than one pack"},
        {{(1 << 18) + 5}, {(1 << 18) + 5}, 0, "same shape, many blocks and a tail"},
        {{64, 3072}, {3072}, 0, "bias row, C = 3072"},
        {{3072}, {2, 32, 3072}, 0, "bias row as input A"},
        {{9, 8}, {8}, 0, "bias row, C = 8"},
        {{33, 770}, {770}, 0, "bias row, C = 770 (no 8-element packs: fallback)"},
        {{17, 12}, {12}, 0, "bias row, C = 12 (fallback for float16, packs for float)"},
        {{4099}, {4099}, 1, "same shape, A misaligned (fallback)"},
        {{4096}, {4096}, 2, "same shape, output misaligned (fallback)"},
        {{16, 3072}, {3072}, 1, "bias row, A misaligned (fallback)"},
    };
    uint32_t seed = 7000;
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
            for (const Case& c : cases) {
                // Random values, not zeros; B (also the divisor) away from 0.
                Tensor a = test::randomTensor(type, c.a, -4.0, 4.0, seed++);
                Tensor b = test::randomTensor(type, c.b, 0.5, 2.0, seed++);
                const Shape out = c.a.size() >= c.b.size() ? c.a : c.b;
                const int64_t count = shapeElementCount(out);
                std::vector<double> reference(static_cast<size_t>(count));
                for (int64_t i = 0; i < count; ++i)
                    reference[static_cast<size_t>(i)] = binaryReference(
                        op, a.elementAsDouble(i % a.elementCount()), b.elementAsDouble(i % b.elementCount()));
                const size_t element = dataTypeSize(type);
                std::vector<size_t> offsets;
                if (c.misalign == 1) offsets = {element, 0, 0};
                if (c.misalign == 2) offsets = {0, 0, element};
                const std::string label = std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(c.a) + " with " +
                                          shapeLabel(c.b) + ": " + c.what;
                auto gpu = runOnCuda(*mBackend, mStream, op, {&a, &b}, {type}, {out}, {}, "", offsets);
                ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                // One rounding of the float result to the output type (float: plus one of the float math).
                const double rtol = type == DataType::kFLOAT ? 1e-6 : type == DataType::kHALF ? 1e-3 : 8e-3;
                EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, rtol, 1e-6), "")
                    << label << " (tactic " << gpu->tactic << ")";
            }
        }
    }
}

TEST_F(CudaElementwiseTest, UnaryOpsMatchCpu) {
    struct UnaryCase {
        const char* op;
        double lo;
        double hi;
    };
    const UnaryCase ops[] = {{"Relu", -4, 4}, {"Sigmoid", -8, 8}, {"Tanh", -4, 4},  {"Exp", -5, 5},
                             {"Neg", -4, 4},  {"Abs", -4, 4},     {"Sqrt", 0.01, 9}};
    // {64, 136}: whole 16-byte packs (unary_map.cuh's pack kernel); the other counts take the one-element one.
    const std::vector<Shape> shapes = {{}, {1}, {7}, {3, 5, 7}, {0, 4}, {1, 1, 1}, {1000003}, {64, 136}};
    uint32_t seed = 100;
    for (const UnaryCase& c : ops) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
            for (const Shape& shape : shapes) {
                Tensor x = test::randomTensor(type, shape, c.lo, c.hi, seed++);
                Tolerance tol = elementwiseTolerance(type);
                expectMatchesCpu(*mBackend, mStream, c.op, {&x}, {}, tol.rtol, tol.atol,
                                 std::string(c.op) + " " + dataTypeName(type) + " " + shapeLabel(shape));
            }
        }
    }
}

TEST_F(CudaElementwiseTest, SoftmaxOverTheLastAxisMatchesCpu) {
    struct SoftmaxCase {
        Shape shape;
        std::optional<int64_t> axis;
    };
    const std::vector<SoftmaxCase> cases = {
        {{1, 5}, std::nullopt}, {{3, 7}, -1}, {{2, 3, 1000}, 2}, {{4, 1}, std::nullopt}, {{5}, 0},
        {{6, 4097}, -1},        {{0, 3}, -1}, {{2, 3, 33}, -1},  {{1000, 64}, -1},       {{7, 129}, std::nullopt},
    };
    uint32_t seed = 300;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const SoftmaxCase& c : cases) {
            Tensor x = test::randomTensor(type, c.shape, -5.0, 5.0, seed++);
            AttributeMap attrs;
            if (c.axis) attrs.set("axis", *c.axis);
            // The row sum is accumulated in another order than the CPU's: its rounding grows with the row.
            const double rowLength = static_cast<double>(c.shape.back());
            Tolerance tol = elementwiseTolerance(type);
            const double rtol = tol.rtol * std::max(1.0, std::sqrt(rowLength / 256.0));
            expectMatchesCpu(*mBackend, mStream, "Softmax", {&x}, attrs, rtol, tol.atol * 0.1,
                             std::string("Softmax ") + dataTypeName(type) + " " + shapeLabel(c.shape));
        }
    }
}

TEST_F(CudaElementwiseTest, ExpandMatchesCpuForEveryElementSize) {
    struct ExpandCase {
        Shape input;
        std::vector<int64_t> shape;
    };
    const std::vector<ExpandCase> cases = {
        {{3, 1}, {2, 3, 4}}, {{}, {5, 2}}, {{1, 4}, {3, 1}}, {{2, 1, 3}, {2, 5, 3}}, {{4}, {0, 4}}, {{6}, {6}},
    };
    uint32_t seed = 500;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kINT8, DataType::kBOOL}) {
        for (const ExpandCase& c : cases) {
            Tensor x = test::randomTensor(type, c.input, -50.0, 50.0, seed++);
            Tensor shape = Tensor::fromInt64(c.shape, {static_cast<int64_t>(c.shape.size())});
            // Data movement only: the result must be exact.
            expectMatchesCpu(*mBackend, mStream, "Expand", {&x, &shape}, {}, 0.0, 0.0,
                             std::string("Expand ") + dataTypeName(type) + " " + shapeLabel(c.input));
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
