// The CUDA MaxPool / AveragePool / LpPool against the CPU backend on random data, in the forms beyond
// 2-D float: 1-D and 3-D windows, float16 and double, dilations, ceil_mode, count_include_pad, auto_pad,
// LpPool's p, and MaxPool's Indices in both storage orders.

#include <gtest/gtest.h>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaPoolingTest = CudaTest;

struct PoolCase {
    Shape input;
    std::vector<int64_t> kernel, strides, dilations, pads;  // empty: the attribute's default
    int64_t ceilMode;
    std::string autoPad;  // empty: NOTSET
};

const std::vector<PoolCase> kPoolCases = {
    {{2, 3, 11}, {3}, {2}, {}, {1, 1}, 0, ""},
    {{1, 2, 9}, {2}, {1}, {2}, {}, 1, ""},
    {{2, 3, 8, 9}, {3, 2}, {2, 2}, {2, 1}, {1, 0, 1, 1}, 1, ""},
    {{1, 2, 7, 7}, {3, 3}, {2, 2}, {}, {}, 0, "SAME_UPPER"},
    {{1, 2, 7, 6}, {2, 3}, {1, 2}, {}, {}, 0, "SAME_LOWER"},
    {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {}, {0, 1, 1, 1, 0, 1}, 0, ""},
    {{2, 1, 4, 5, 6}, {3, 3, 3}, {1, 2, 2}, {1, 1, 2}, {}, 1, "VALID"},
};

AttributeMap poolAttributes(const PoolCase& c) {
    AttributeMap attrs;
    attrs.set("kernel_shape", c.kernel);
    if (!c.strides.empty()) attrs.set("strides", c.strides);
    if (!c.dilations.empty()) attrs.set("dilations", c.dilations);
    if (!c.pads.empty()) attrs.set("pads", c.pads);
    if (!c.autoPad.empty()) attrs.set("auto_pad", c.autoPad);
    attrs.set("ceil_mode", c.ceilMode);
    return attrs;
}

double tolerance(DataType type) {
    return type == DataType::kHALF ? 4e-3 : type == DataType::kFLOAT ? 1e-5 : 1e-12;
}

TEST_F(CudaPoolingTest, EveryWindowFormMatchesCpu) {
    uint32_t seed = 1;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}) {
        for (const PoolCase& c : kPoolCases) {
            Tensor x = test::randomTensor(type, c.input, -3.0, 3.0, seed++);
            const std::string shape = std::string(dataTypeName(type)) + " " + shapeLabel(c.input);
            AttributeMap attrs = poolAttributes(c);
            expectMatchesCpu(*mBackend, mStream, "MaxPool", {&x}, attrs, 0.0, 0.0, "MaxPool " + shape);
            for (int64_t includePad : {0, 1}) {
                AttributeMap avg = attrs;
                avg.set("count_include_pad", includePad);
                expectMatchesCpu(*mBackend, mStream, "AveragePool", {&x}, avg, tolerance(type), tolerance(type),
                                 "AveragePool " + shape + " count_include_pad " + std::to_string(includePad));
            }
            for (int64_t p : {1, 2, 3}) {
                AttributeMap lp = attrs;
                lp.set("p", p);
                expectMatchesCpu(*mBackend, mStream, "LpPool", {&x}, lp, tolerance(type), tolerance(type),
                                 "LpPool p " + std::to_string(p) + " " + shape);
            }
        }
    }
}

TEST_F(CudaPoolingTest, MaxPoolIndicesMatchCpuInBothStorageOrders) {
    uint32_t seed = 100;
    for (const PoolCase& c : kPoolCases) {
        // Few distinct values: ties are common, and the first maximum's index must win.
        Tensor x = convertTensor(test::randomTensor(DataType::kINT32, c.input, -4.0, 4.0, seed++), DataType::kFLOAT);
        for (int64_t order : {0, 1}) {
            AttributeMap attrs = poolAttributes(c);
            attrs.set("storage_order", order);
            std::vector<Tensor> reference = cpuReference("MaxPool", {&x}, 2, attrs);
            ASSERT_EQ(reference.size(), 2u);
            const std::string label = "MaxPool indices " + shapeLabel(c.input) + " storage_order " + std::to_string(order);
            auto gpu = runOnCuda(*mBackend, mStream, "MaxPool", {&x}, {DataType::kFLOAT, DataType::kINT64},
                                 {reference[0].shape(), reference[1].shape()}, attrs);
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            for (size_t i = 0; i < 2; ++i)
                EXPECT_EQ(test::compareWithReference(gpu->outputs[i], reference[i].toDoubleVector(), 0.0, 0.0), "")
                    << label << " output " << i;
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
