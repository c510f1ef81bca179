// The CUDA Pad against the CPU backend on random data: every mode, pads wider than the input (reflect
// and wrap repeat), negative pads (crops), the opset-18 axes input (negative axes), an explicit and an
// omitted constant, and every element size. Data movement must be exact.

#include <gtest/gtest.h>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaPadTest = CudaTest;

struct PadCase {
    Shape shape;
    std::vector<int64_t> pads;
    std::vector<int64_t> axes;  // empty: every axis
};

const std::vector<PadCase> kPadCases = {
    {{3, 4}, {1, 2, 2, 1}, {}},
    {{2, 3, 5}, {0, 1, 3, 1, 0, 4}, {}},
    {{4, 5}, {-1, 2, 1, -2}, {}},           // crops
    {{3, 3}, {7, 0, 5, 0}, {}},             // wider than the input: reflect and wrap go round more than once
    {{2, 3, 4, 5}, {2, 3, 1, 2}, {1, -1}},  // axes input, a negative axis
    {{1, 6}, {0, 4, 0, 4}, {}},             // an axis of extent 1
    {{2, 3}, {0, 0, 0, 0}, {}},             // nothing to pad
};

TEST_F(CudaPadTest, EveryModeMatchesCpu) {
    uint32_t seed = 1;
    for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8}) {
            for (const PadCase& c : kPadCases) {
                Tensor x = test::randomTensor(type, c.shape, 1.0, 9.0, seed++);
                Tensor pads = Tensor::fromInt64(c.pads, {static_cast<int64_t>(c.pads.size())});
                Tensor axes = Tensor::fromInt64(c.axes, {static_cast<int64_t>(c.axes.size())});
                Tensor constant = convertTensor(Tensor::scalarFloat(5.f), type);
                AttributeMap attrs;
                attrs.set("mode", std::string(mode));
                const std::string label =
                    std::string("Pad ") + mode + " " + dataTypeName(type) + " " + shapeLabel(c.shape);
                std::vector<const Tensor*> inputs = {&x, &pads};
                if (!c.axes.empty()) inputs.insert(inputs.end(), {nullptr, &axes});
                expectMatchesCpu(*mBackend, mStream, "Pad", inputs, attrs, 0.0, 0.0, label + " default constant");
                inputs = {&x, &pads, &constant};
                if (!c.axes.empty()) inputs.push_back(&axes);
                expectMatchesCpu(*mBackend, mStream, "Pad", inputs, attrs, 0.0, 0.0, label + " constant 5");
            }
        }
    }
}

TEST_F(CudaPadTest, AnEmptyInputPadsToTheConstant) {
    Tensor x = Tensor::allocate(DataType::kFLOAT, {0, 3});
    Tensor pads = Tensor::fromInt64({2, 1, 1, 0}, {4});
    Tensor constant = Tensor::scalarFloat(-1.5f);
    expectMatchesCpu(*mBackend, mStream, "Pad", {&x, &pads, &constant}, {}, 0.0, 0.0, "Pad of an empty input");
}

TEST_F(CudaPadTest, RefusesAnUnknownMode) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {2, 2}, -1.0, 1.0, 9);
    Tensor pads = Tensor::fromInt64({1, 1, 1, 1}, {4});
    AttributeMap attrs;
    attrs.set("mode", std::string("mirror"));
    auto gpu = runOnCuda(*mBackend, mStream, "Pad", {&x, &pads}, {DataType::kFLOAT}, {Shape{4, 4}}, attrs);
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("mirror"), std::string::npos) << gpu.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
