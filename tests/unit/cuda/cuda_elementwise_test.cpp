// The CUDA element-wise, activation, softmax and expand kernels against the CPU backend's, on random
// data and shapes: broadcasting of every kind, scalars, empty tensors, 1-sized dims, rank 8, and sizes
// that need many blocks of the grid-stride loops.

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

TEST_F(CudaElementwiseTest, UnaryOpsMatchCpu) {
    struct UnaryCase {
        const char* op;
        double lo;
        double hi;
    };
    const UnaryCase ops[] = {{"Relu", -4, 4}, {"Sigmoid", -8, 8}, {"Tanh", -4, 4},  {"Exp", -5, 5},
                             {"Neg", -4, 4},  {"Abs", -4, 4},     {"Sqrt", 0.01, 9}};
    const std::vector<Shape> shapes = {{}, {1}, {7}, {3, 5, 7}, {0, 4}, {1, 1, 1}, {1000003}};
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
