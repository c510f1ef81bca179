// The CUDA kernels that work along an axis, against the CPU backend on random data: Softmax, LogSoftmax
// and Hardmax over every axis (rows and columns forms, float and float16), ArgMax / ArgMin (keepdims,
// select_last_index, negative axes, every supported type, ties and NaN), CumSum / CumProd (exclusive,
// reverse, negative axes, int32 and int64 axis) and the ReduceX family on float16 and double.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaAxisOpsTest = CudaTest;

struct AxisCase {
    Shape shape;
    int64_t axis;
};

// Innermost axes (one block per row, short and long rows) and inner ones (one thread per column).
const std::vector<AxisCase> kAxisCases = {
    {{3, 7}, -1},   {{2, 3, 1000}, 2}, {{5}, 0},      {{4, 1}, -1},  {{2, 3, 4}, 0},
    {{2, 3, 4}, 1}, {{3, 5, 2, 6}, -3}, {{0, 3}, 1},  {{6, 300}, 0}, {{2, 257, 3}, 1},
    // Rows held by one warp (a row count that leaves a block's last warps idle, ViT's 197 keys, exactly
    // 1024) and rows past a warp's registers (1025: one block per row).
    {{37, 197}, -1}, {{9, 64}, 1}, {{3, 1024}, -1}, {{3, 1025}, -1},
};

TEST_F(CudaAxisOpsTest, SoftmaxAndLogSoftmaxOverEveryAxisMatchCpu) {
    uint32_t seed = 1;
    for (const char* op : {"Softmax", "LogSoftmax"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
            for (const AxisCase& c : kAxisCases) {
                Tensor x = test::randomTensor(type, c.shape, -5.0, 5.0, seed++);
                AttributeMap attrs;
                attrs.set("axis", c.axis);
                // float16 results round to 11 bits; float sums differ from the CPU's double ones in order.
                const double rtol = type == DataType::kHALF ? 4e-3 : 2e-5;
                const double atol = type == DataType::kHALF ? 2e-3 : 1e-6;
                expectMatchesCpu(*mBackend, mStream, op, {&x}, attrs, rtol, atol,
                                 std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(c.shape) + " axis " +
                                     std::to_string(c.axis));
            }
        }
    }
}

TEST_F(CudaAxisOpsTest, SoftmaxDefaultAxisIsTheLast) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {4, 9}, -3.0, 3.0, 77);
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"})
        expectMatchesCpu(*mBackend, mStream, op, {&x}, {}, 2e-5, 1e-6, std::string(op) + " default axis");
}

TEST_F(CudaAxisOpsTest, HardmaxMatchesCpuWithTiesAndNaN) {
    uint32_t seed = 100;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const AxisCase& c : kAxisCases) {
            // Few distinct values: ties are common, and the first maximum must win.
            Tensor x = test::randomTensor(type, c.shape, -3.0, 3.0, seed++);
            Tensor rounded = convertTensor(convertTensor(test::randomTensor(DataType::kINT32, c.shape, -3.0, 3.0, seed++),
                                                         DataType::kFLOAT),
                                           type);
            AttributeMap attrs;
            attrs.set("axis", c.axis);
            const std::string label = std::string("Hardmax ") + dataTypeName(type) + " " + shapeLabel(c.shape) +
                                      " axis " + std::to_string(c.axis);
            expectMatchesCpu(*mBackend, mStream, "Hardmax", {&x}, attrs, 0.0, 0.0, label);
            expectMatchesCpu(*mBackend, mStream, "Hardmax", {&rounded}, attrs, 0.0, 0.0, label + " (ties)");
        }
    }
    Tensor withNaN = Tensor::allocate(DataType::kFLOAT, {2, 4});
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float values[8] = {nan, 1.f, 3.f, 2.f, 1.f, nan, nan, 0.5f};
    for (int i = 0; i < 8; ++i) withNaN.data<float>()[i] = values[i];
    AttributeMap attrs;
    attrs.set("axis", int64_t{-1});
    expectMatchesCpu(*mBackend, mStream, "Hardmax", {&withNaN}, attrs, 0.0, 0.0, "Hardmax with NaN");
}

TEST_F(CudaAxisOpsTest, ArgMaxArgMinMatchCpu) {
    struct Case {
        Shape shape;
        int64_t axis;
    };
    const std::vector<Case> cases = {{{3, 4, 5}, 0}, {{3, 4, 5}, 1}, {{3, 4, 5}, -1}, {{7}, 0},
                                     {{2, 1000}, 1}, {{6, 1, 2}, 1}, {{0, 4}, 1},     {{2, 3, 4, 5}, -3}};
    uint32_t seed = 200;
    for (const char* op : {"ArgMax", "ArgMin"}) {
        for (DataType type :
             {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}) {
            for (const Case& c : cases) {
                // A narrow integer range makes ties common, so select_last_index matters.
                const bool integer = type == DataType::kINT32 || type == DataType::kINT64;
                Tensor x = test::randomTensor(type, c.shape, integer ? -3.0 : -9.0, integer ? 3.0 : 9.0, seed++);
                for (int64_t keepdims : {0, 1}) {
                    for (int64_t last : {0, 1}) {
                        AttributeMap attrs;
                        attrs.set("axis", c.axis);
                        attrs.set("keepdims", keepdims);
                        attrs.set("select_last_index", last);
                        expectMatchesCpu(*mBackend, mStream, op, {&x}, attrs, 0.0, 0.0,
                                         std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(c.shape) +
                                             " axis " + std::to_string(c.axis) + " keepdims " +
                                             std::to_string(keepdims) + " last " + std::to_string(last));
                    }
                }
            }
        }
    }
    // NaN counts as the extremum.
    Tensor withNaN = Tensor::allocate(DataType::kFLOAT, {2, 4});
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float values[8] = {1.f, nan, 3.f, nan, 4.f, 2.f, 4.f, 0.5f};
    for (int i = 0; i < 8; ++i) withNaN.data<float>()[i] = values[i];
    for (const char* op : {"ArgMax", "ArgMin"}) {
        for (int64_t last : {0, 1}) {
            AttributeMap attrs;
            attrs.set("axis", int64_t{1});
            attrs.set("select_last_index", last);
            expectMatchesCpu(*mBackend, mStream, op, {&withNaN}, attrs, 0.0, 0.0,
                             std::string(op) + " with NaN, last " + std::to_string(last));
        }
    }
}

TEST_F(CudaAxisOpsTest, CumSumAndCumProdMatchCpu) {
    struct Case {
        Shape shape;
        int64_t axis;
    };
    const std::vector<Case> cases = {{{7}, 0}, {{3, 4, 5}, 1}, {{3, 4, 5}, -1}, {{3, 4, 5}, 0}, {{2, 300}, -1},
                                     {{0, 3}, 1}, {{4, 0}, 0}};
    uint32_t seed = 400;
    for (const char* op : {"CumSum", "CumProd"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}) {
            for (const Case& c : cases) {
                // Products of values near 1 stay in range over 300 steps; integers stay small.
                const bool product = std::string(op) == "CumProd";
                const bool integer = type == DataType::kINT32 || type == DataType::kINT64;
                Tensor x = product ? test::randomTensor(type, c.shape, integer ? -2.0 : 0.9, integer ? 2.0 : 1.1, seed++)
                                   : test::randomTensor(type, c.shape, -3.0, 3.0, seed++);
                for (DataType axisType : {DataType::kINT64, DataType::kINT32}) {
                    Tensor axis = convertTensor(Tensor::fromInt64({c.axis}, {}), axisType);
                    for (int64_t exclusive : {0, 1}) {
                        for (int64_t reverse : {0, 1}) {
                            AttributeMap attrs;
                            attrs.set("exclusive", exclusive);
                            attrs.set("reverse", reverse);
                            // Both accumulate in double (float16 stores each partial result rounded).
                            const double rtol = type == DataType::kHALF ? 1e-3 : type == DataType::kFLOAT ? 1e-6 : 1e-12;
                            expectMatchesCpu(*mBackend, mStream, op, {&x, &axis}, attrs, rtol, rtol,
                                             std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(c.shape) +
                                                 " axis " + std::to_string(c.axis) + " exclusive " +
                                                 std::to_string(exclusive) + " reverse " + std::to_string(reverse));
                        }
                    }
                }
            }
        }
    }
}

TEST_F(CudaAxisOpsTest, ReductionsOnHalfAndDoubleMatchCpu) {
    uint32_t seed = 300;
    const std::vector<std::pair<std::vector<int64_t>, int64_t>> axesCases = {
        {{-1}, 1}, {{1}, 0}, {{0, 2}, 1}, {{}, 0}};
    for (DataType type : {DataType::kDOUBLE, DataType::kHALF}) {
        for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
                               "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"}) {
            for (const auto& [axes, keepdims] : axesCases) {
                // Positive values keep ReduceLogSum defined.
                Tensor x = test::randomTensor(type, {3, 4, 5}, 0.5, 1.5, seed++);
                AttributeMap attrs;
                attrs.set("keepdims", keepdims);
                Tensor axesTensor = Tensor::fromInt64(axes, {static_cast<int64_t>(axes.size())});
                std::vector<const Tensor*> inputs = {&x};
                if (!axes.empty()) inputs.push_back(&axesTensor);
                const double rtol = type == DataType::kHALF ? 2e-3 : 1e-12;
                expectMatchesCpu(*mBackend, mStream, op, inputs, attrs, rtol, rtol * 1e-1,
                                 std::string(op) + " " + dataTypeName(type) + " over " + std::to_string(axes.size()) +
                                     " axes");
            }
        }
    }
}

// Reductions of 64 or more elements per output share them among a block's threads and, when long, split
// them over several blocks whose partial results a second kernel combines: channels-last global pooling
// (few outputs, a long strided range), one long row, many short columns, and everything into one value.
TEST_F(CudaAxisOpsTest, LongReductionsSplitAcrossBlocksMatchCpu) {
    uint32_t seed = 900;
    struct Case {
        Shape shape;
        std::vector<int64_t> axes;
    };
    const std::vector<Case> cases = {{{2, 56, 56, 24}, {1, 2}},
                                     {{1, 20000}, {-1}},
                                     {{3, 100, 5}, {1}},
                                     {{40, 3, 70}, {0, 2}},
                                     {{6, 7, 300}, {}}};
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
                               "ReduceL1", "ReduceL2", "ReduceLogSum"}) {
            for (const Case& c : cases) {
                // Positive, so ReduceLogSum is defined; near 1 for ReduceProd, so 20000 factors stay finite.
                const bool product = std::string(op) == "ReduceProd";
                Tensor x = test::randomTensor(type, c.shape, product ? 0.999 : 0.1, product ? 1.001 : 2.0, seed++);
                AttributeMap attrs;
                attrs.set("keepdims", int64_t{1});
                Tensor axesTensor = Tensor::fromInt64(c.axes, {static_cast<int64_t>(c.axes.size())});
                std::vector<const Tensor*> inputs = {&x};
                if (!c.axes.empty()) inputs.push_back(&axesTensor);
                const std::string label = std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(c.shape) +
                                          " over " + std::to_string(c.axes.size()) + " axes";
                // float16 rounds its result once; float and double results come from double sums.
                const double rtol = type == DataType::kHALF ? 2e-3 : type == DataType::kFLOAT ? 1e-6 : 1e-12;
                expectMatchesCpu(*mBackend, mStream, op, inputs, attrs, rtol, rtol * 1e-1, label);
                std::vector<Tensor> converted;
                std::vector<Tensor> reference = cpuReference(op, halfInputsAsFloat(inputs, converted), 1, attrs);
                auto gpu = runOnCuda(*mBackend, mStream, op, inputs, {type}, {reference[0].shape()}, attrs);
                ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                EXPECT_EQ(gpu->tactic.rfind("cuda.reduce_split_", 0), 0u) << label << ": " << gpu->tactic;
            }
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
