// The CUDA element-indexing kernels against the CPU backend on random data: GatherElements (every
// axis, negative axes and indices, int32 and int64 indices, every element size), ScatterElements and
// ScatterND with every reduction (duplicate indices with the reductions; distinct ones for `none`,
// whose result ONNX leaves undefined under duplicates).

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaScatterGatherTest = CudaTest;

/// Random indices in [-extent, extent) of `type` and `shape` (negative ones count from the end).
Tensor randomIndices(DataType type, const Shape& shape, int64_t extent, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> dist(-extent, extent - 1);
    Tensor t = Tensor::allocate(type, shape);
    for (int64_t i = 0; i < t.elementCount(); ++i) {
        if (type == DataType::kINT32) t.data<int32_t>()[i] = static_cast<int32_t>(dist(rng));
        else t.data<int64_t>()[i] = dist(rng);
    }
    return t;
}

struct ElementsCase {
    Shape data;
    Shape indices;
    int64_t axis;
};

const std::vector<ElementsCase> kElementsCases = {
    {{3, 4}, {2, 4}, 0},     {{3, 4}, {3, 6}, 1},       {{2, 3, 5}, {2, 3, 2}, -1},
    {{4, 3, 2}, {7, 2, 1}, 0}, {{5}, {9}, 0},           {{2, 3, 4, 5}, {1, 3, 2, 5}, -3},
    {{3, 4}, {0, 4}, 0},
};

TEST_F(CudaScatterGatherTest, GatherElementsMatchesCpu) {
    uint32_t seed = 1;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8}) {
        for (DataType indexType : {DataType::kINT64, DataType::kINT32}) {
            for (const ElementsCase& c : kElementsCases) {
                const size_t axis = static_cast<size_t>(c.axis < 0 ? c.axis + static_cast<int64_t>(c.data.size()) : c.axis);
                Tensor data = test::randomTensor(type, c.data, 1.0, 100.0, seed++);
                Tensor indices = randomIndices(indexType, c.indices, c.data[axis], seed++);
                AttributeMap attrs;
                attrs.set("axis", c.axis);
                expectMatchesCpu(*mBackend, mStream, "GatherElements", {&data, &indices}, attrs, 0.0, 0.0,
                                 std::string("GatherElements ") + dataTypeName(type) + " data " + shapeLabel(c.data) +
                                     " indices " + shapeLabel(c.indices) + " " + dataTypeName(indexType));
            }
        }
    }
}

TEST_F(CudaScatterGatherTest, ScatterElementsWithEveryReductionMatchesCpu) {
    uint32_t seed = 100;
    for (const char* reduction : {"none", "add", "mul", "max", "min"}) {
        const bool none = std::string(reduction) == "none";
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}) {
            for (DataType indexType : {DataType::kINT64, DataType::kINT32}) {
                for (ElementsCase c : kElementsCases) {
                    const size_t axis =
                        static_cast<size_t>(c.axis < 0 ? c.axis + static_cast<int64_t>(c.data.size()) : c.axis);
                    // Scatter indices stay within the data off the axis; with `none`, one index per line
                    // along the axis keeps every target distinct.
                    for (size_t d = 0; d < c.data.size(); ++d)
                        if (d != axis) c.indices[d] = std::min(c.indices[d], c.data[d]);
                    if (none && c.indices[axis] > 0) c.indices[axis] = 1;
                    // Values near 1 keep products of duplicates in range; integers stay small.
                    Tensor data = test::randomTensor(type, c.data, 1.0, 3.0, seed++);
                    Tensor updates = test::randomTensor(type, c.indices, 0.5, 2.0, seed++);
                    Tensor indices = randomIndices(indexType, c.indices, c.data[axis], seed++);
                    AttributeMap attrs;
                    attrs.set("axis", c.axis);
                    attrs.set("reduction", std::string(reduction));
                    // add and mul combine duplicates in another order than the CPU: float rounding may differ.
                    const double rtol = type == DataType::kHALF ? 1e-2 : type == DataType::kFLOAT ? 1e-6 : 1e-12;
                    expectMatchesCpu(*mBackend, mStream, "ScatterElements", {&data, &indices, &updates}, attrs, rtol,
                                     0.0,
                                     std::string("ScatterElements ") + reduction + " " + dataTypeName(type) + " data " +
                                         shapeLabel(c.data) + " indices " + shapeLabel(c.indices) + " " +
                                         dataTypeName(indexType));
                }
            }
        }
    }
}

TEST_F(CudaScatterGatherTest, ScatterNDWithEveryReductionMatchesCpu) {
    struct Case {
        Shape data;
        Shape indices;  // last dim: the tuple size
    };
    const std::vector<Case> cases = {
        {{8}, {4, 1}},          {{6, 5, 4}, {3, 1}}, {{6, 5, 4}, {2, 2, 2}}, {{4, 3, 2}, {5, 3}},
        {{2, 3, 4, 5}, {2, 2}}, {{5, 6}, {0, 1}},
    };
    uint32_t seed = 300;
    for (const char* reduction : {"none", "add", "mul", "max", "min"}) {
        const bool none = std::string(reduction) == "none";
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}) {
            for (const Case& c : cases) {
                const int64_t tupleSize = c.indices.back();
                const int64_t tuples = shapeElementCount(c.indices) / tupleSize;
                Tensor indices = Tensor::allocate(DataType::kINT64, c.indices);
                std::mt19937 rng(seed++);
                if (none) {
                    // Distinct tuples: a random choice of the data's leading cells, some written as negatives.
                    const int64_t cells = shapeElementCount(Shape(c.data.begin(), c.data.begin() + tupleSize));
                    ASSERT_LE(tuples, cells);
                    std::vector<int64_t> order(static_cast<size_t>(cells));
                    std::iota(order.begin(), order.end(), int64_t{0});
                    std::shuffle(order.begin(), order.end(), rng);
                    for (int64_t t = 0; t < tuples; ++t) {
                        int64_t rest = order[static_cast<size_t>(t)];
                        for (int64_t j = tupleSize - 1; j >= 0; --j) {
                            const int64_t extent = c.data[static_cast<size_t>(j)];
                            const int64_t coord = rest % extent;
                            rest /= extent;
                            indices.data<int64_t>()[t * tupleSize + j] = rng() % 2 ? coord : coord - extent;
                        }
                    }
                } else {
                    for (int64_t t = 0; t < tuples; ++t)
                        for (int64_t j = 0; j < tupleSize; ++j) {
                            const int64_t extent = c.data[static_cast<size_t>(j)];
                            indices.data<int64_t>()[t * tupleSize + j] =
                                static_cast<int64_t>(rng() % static_cast<uint32_t>(2 * extent)) - extent;
                        }
                }
                Shape updateShape(c.indices.begin(), c.indices.end() - 1);
                updateShape.insert(updateShape.end(), c.data.begin() + tupleSize, c.data.end());
                Tensor data = test::randomTensor(type, c.data, 1.0, 3.0, seed++);
                Tensor updates = test::randomTensor(type, updateShape, 0.5, 2.0, seed++);
                AttributeMap attrs;
                attrs.set("reduction", std::string(reduction));
                const double rtol = type == DataType::kHALF ? 1e-2 : type == DataType::kFLOAT ? 1e-6 : 1e-12;
                expectMatchesCpu(*mBackend, mStream, "ScatterND", {&data, &indices, &updates}, attrs, rtol, 0.0,
                                 std::string("ScatterND ") + reduction + " " + dataTypeName(type) + " data " +
                                     shapeLabel(c.data) + " indices " + shapeLabel(c.indices));
            }
        }
    }
}

TEST_F(CudaScatterGatherTest, RefusesAnUnknownReduction) {
    Tensor data = test::randomTensor(DataType::kFLOAT, {3, 4}, -1.0, 1.0, 9);
    Tensor indices = Tensor::fromInt64({0, 1}, {2, 1});
    Tensor updates = test::randomTensor(DataType::kFLOAT, {2, 4}, -1.0, 1.0, 10);
    AttributeMap attrs;
    attrs.set("reduction", std::string("mean"));
    auto gpu = runOnCuda(*mBackend, mStream, "ScatterND", {&data, &indices, &updates}, {DataType::kFLOAT},
                         {Shape{3, 4}}, attrs);
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("mean"), std::string::npos) << gpu.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
