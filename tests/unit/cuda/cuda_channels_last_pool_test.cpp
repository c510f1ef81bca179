// The CUDA kiln::ChannelsLastPool (NHWC MaxPool / AveragePool) against the CPU backend's on random data:
// float, float16, bfloat16 and double; channel counts below, at and beyond a warp, and counts that make
// the kernel read 16-, 8-, 4-byte vectors of channels or single ones; pads, strides, dilations,
// ceil_mode, auto_pad and count_include_pad.

#include <gtest/gtest.h>

#include "cuda_test_support.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cudatest {
namespace {

using CudaChannelsLastPoolTest = CudaTest;

struct NhwcPoolCase {
    Shape input;  // N, H, W, C
    std::vector<int64_t> kernel, strides, dilations, pads;  // empty: the attribute's default
    int64_t ceilMode;
    std::string autoPad;  // empty: NOTSET
};

const std::vector<NhwcPoolCase> kCases = {
    {{2, 8, 9, 3}, {3, 2}, {2, 2}, {}, {1, 0, 1, 1}, 1, ""},
    {{1, 7, 7, 32}, {3, 3}, {2, 2}, {}, {}, 0, "SAME_UPPER"},
    {{2, 9, 6, 67}, {2, 3}, {1, 2}, {2, 1}, {0, 1, 1, 0}, 0, ""},
    {{1, 6, 7, 16}, {2, 3}, {1, 2}, {}, {}, 0, "SAME_LOWER"},
    {{3, 10, 11, 5}, {3, 3}, {3, 2}, {1, 2}, {}, 1, "VALID"},
    {{2, 9, 9, 12}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, 0, ""},   // vectors of 4 channels (2 for double)
    {{2, 7, 8, 6}, {2, 2}, {1, 2}, {}, {0, 1, 1, 0}, 1, ""},    // vectors of 2 channels
    {{2, 12, 11, 64}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, 0, ""},  // ResNet's stem pool, fewer pixels
};

AttributeMap attributesOf(const NhwcPoolCase& c, const std::string& pool) {
    AttributeMap attrs;
    attrs.set(kChannelsLastPoolAttribute, pool);
    attrs.set("kernel_shape", c.kernel);
    if (!c.strides.empty()) attrs.set("strides", c.strides);
    if (!c.dilations.empty()) attrs.set("dilations", c.dilations);
    if (!c.pads.empty()) attrs.set("pads", c.pads);
    if (!c.autoPad.empty()) attrs.set("auto_pad", c.autoPad);
    attrs.set("ceil_mode", c.ceilMode);
    return attrs;
}

double averageTolerance(DataType type) {
    switch (type) {
        case DataType::kHALF: return 4e-3;
        case DataType::kBF16: return 1e-2;
        case DataType::kFLOAT: return 1e-5;
        default: return 1e-12;
    }
}

/// The GPU result on `x` against the CPU kernel's on `x` in float (float16 and bfloat16) or its own type.
void expectNhwcPoolMatchesCpu(Backend& backend, Stream stream, const Tensor& x, const AttributeMap& attrs, double tol,
                              const std::string& label) {
    const bool narrow = x.dtype() == DataType::kHALF || x.dtype() == DataType::kBF16;
    const Tensor referenceInput = narrow ? convertTensor(x, DataType::kFLOAT) : x;
    test::SingleNodeRun ref = test::runSingleNode("ChannelsLastPool", {&referenceInput}, 1, attrs, "kiln");
    ASSERT_TRUE(ref.status.isOk()) << label << ": " << ref.status.message();
    auto gpu = runOnCuda(backend, stream, "ChannelsLastPool", {&x}, {x.dtype()}, {ref.outputs[0].shape()}, attrs, "kiln");
    ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
    EXPECT_EQ(test::compareWithReference(gpu->outputs[0], ref.outputs[0].toDoubleVector(), tol, tol), "")
        << label << " (tactic " << gpu->tactic << ")";
}

TEST_F(CudaChannelsLastPoolTest, EveryWindowFormAndTypeMatchesCpu) {
    uint32_t seed = 1;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
        for (const NhwcPoolCase& c : kCases) {
            Tensor x = test::randomTensor(type, c.input, -3.0, 3.0, seed++);
            const std::string label = std::string(dataTypeName(type)) + " " + shapeLabel(c.input);
            expectNhwcPoolMatchesCpu(*mBackend, mStream, x, attributesOf(c, "MaxPool"), 0.0, "MaxPool " + label);
            for (int64_t includePad : {0, 1}) {
                AttributeMap avg = attributesOf(c, "AveragePool");
                avg.set("count_include_pad", includePad);
                expectNhwcPoolMatchesCpu(*mBackend, mStream, x, avg, averageTolerance(type),
                                         "AveragePool " + label + " count_include_pad " + std::to_string(includePad));
            }
        }
    }
}

TEST_F(CudaChannelsLastPoolTest, OtherPoolsAndRanksAreRefused) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {1, 4, 4, 3}, -1, 1, 7);
    AttributeMap attrs;
    attrs.set("kernel_shape", std::vector<int64_t>{2, 2});
    attrs.set(kChannelsLastPoolAttribute, std::string("LpPool"));
    auto lp = runOnCuda(*mBackend, mStream, "ChannelsLastPool", {&x}, {DataType::kFLOAT}, {{1, 3, 3, 3}}, attrs, "kiln");
    EXPECT_FALSE(lp.isOk());
    Tensor volume = test::randomTensor(DataType::kFLOAT, {1, 4, 4, 4, 3}, -1, 1, 8);
    attrs.set(kChannelsLastPoolAttribute, std::string("MaxPool"));
    attrs.set("kernel_shape", std::vector<int64_t>{2, 2, 2});
    auto rank5 = runOnCuda(*mBackend, mStream, "ChannelsLastPool", {&volume}, {DataType::kFLOAT}, {{1, 3, 3, 3, 3}},
                           attrs, "kiln");
    EXPECT_FALSE(rank5.isOk());
}

}  // namespace
}  // namespace kiln::cudatest
