// The CUDA signal ops against the CPU backend: DFT on every signal axis (negative ones too), real and
// complex input, forward and inverse, one-sided both ways, dft_length shorter and longer than the
// signal; STFT with and without a window and frame_length, one- and two-sided; the three windows
// (periodic and symmetric, float / double / float16 outputs) and MelWeightMatrix. Their index inputs
// are graph inputs here, so the kernels read them from the device.

#include <gtest/gtest.h>

#include <optional>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaSignalTest = CudaTest;

Tensor int64Scalar(int64_t v) {
    Tensor t = Tensor::allocate(DataType::kINT64, {});
    *t.data<int64_t>() = v;
    return t;
}

double tolerance(DataType type) {
    return type == DataType::kHALF ? 2e-2 : type == DataType::kDOUBLE ? 1e-9 : 2e-5;
}

TEST_F(CudaSignalTest, DftMatchesCpu) {
    uint32_t seed = 1;
    struct Case {
        Shape shape;
        int64_t axis;
    };
    const std::vector<Case> cases = {{{2, 8, 1}, 1}, {{3, 7, 2}, -2}, {{2, 5, 4, 2}, 1}, {{2, 5, 6, 1}, 2},
                                     {{2, 5, 6, 2}, -3}, {{1, 16, 2}, 1}};
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}) {
        for (const Case& c : cases) {
            Tensor x = test::randomTensor(type, c.shape, -1.0, 1.0, seed++);
            Tensor axis = int64Scalar(c.axis);
            const int64_t rank = static_cast<int64_t>(c.shape.size());
            const int64_t length = c.shape[static_cast<size_t>(c.axis < 0 ? c.axis + rank : c.axis)];
            for (int64_t inverse : {0, 1}) {
                for (int64_t onesided : {0, 1}) {
                    // A complex input to a one-sided forward transform is not defined.
                    if (onesided && !inverse && c.shape.back() == 2) continue;
                    if (onesided && inverse && c.shape.back() != 2) continue;
                    for (std::optional<int64_t> n : {std::optional<int64_t>{}, std::optional<int64_t>{length - 2},
                                                     std::optional<int64_t>{length + 3}}) {
                        Tensor dftLength = int64Scalar(n.value_or(0));
                        AttributeMap attrs;
                        attrs.set("inverse", inverse);
                        attrs.set("onesided", onesided);
                        const std::string label = std::string("DFT ") + dataTypeName(type) + " " + shapeLabel(c.shape) +
                                                  " axis " + std::to_string(c.axis) + (inverse ? " inverse" : "") +
                                                  (onesided ? " onesided" : "") +
                                                  (n ? " n " + std::to_string(*n) : "");
                        const double tol = tolerance(type);
                        expectMatchesCpu(*mBackend, mStream, "DFT", {&x, n ? &dftLength : nullptr, &axis}, attrs, tol,
                                         tol, label);
                    }
                }
            }
        }
    }
}

TEST_F(CudaSignalTest, DftDefaultAxis) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {3, 9, 2}, -1.0, 1.0, 50);
    expectMatchesCpu(*mBackend, mStream, "DFT", {&x}, {}, 2e-5, 2e-5, "DFT default axis");
}

TEST_F(CudaSignalTest, StftMatchesCpu) {
    uint32_t seed = 100;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}) {
        for (int64_t components : {1, 2}) {
            Tensor x = test::randomTensor(type, {2, 40, components}, -1.0, 1.0, seed++);
            Tensor window = test::randomTensor(type, {12}, 0.0, 1.0, seed++);
            Tensor frameLength = int64Scalar(12);
            for (int64_t step : {3, 8}) {
                Tensor frameStep = int64Scalar(step);
                for (int64_t onesided : {0, 1}) {
                    if (onesided && components == 2) continue;
                    AttributeMap attrs;
                    attrs.set("onesided", onesided);
                    const std::string label = std::string("STFT ") + dataTypeName(type) + " components " +
                                              std::to_string(components) + " step " + std::to_string(step) +
                                              (onesided ? " onesided" : "");
                    const double tol = tolerance(type);
                    expectMatchesCpu(*mBackend, mStream, "STFT", {&x, &frameStep, &window}, attrs, tol, tol,
                                     label + " window");
                    expectMatchesCpu(*mBackend, mStream, "STFT", {&x, &frameStep, nullptr, &frameLength}, attrs, tol,
                                     tol, label + " frame_length");
                    expectMatchesCpu(*mBackend, mStream, "STFT", {&x, &frameStep, &window, &frameLength}, attrs, tol,
                                     tol, label + " both");
                }
            }
        }
    }
}

TEST_F(CudaSignalTest, WindowsMatchCpu) {
    for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"}) {
        for (int64_t size : {1, 2, 10, 33}) {
            Tensor sizeTensor = int64Scalar(size);
            for (int64_t periodic : {0, 1}) {
                for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}) {
                    AttributeMap attrs;
                    attrs.set("periodic", periodic);
                    attrs.set("output_datatype", static_cast<int64_t>(dataTypeToOnnx(type)));
                    const std::string label = std::string(op) + " " + std::to_string(size) +
                                              (periodic ? " periodic " : " symmetric ") + dataTypeName(type);
                    std::vector<Tensor> reference = cpuReference(op, {&sizeTensor}, 1, attrs);
                    ASSERT_EQ(reference.size(), 1u) << label;
                    auto gpu = runOnCuda(*mBackend, mStream, op, {&sizeTensor}, {type}, {reference[0].shape()}, attrs);
                    ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                    const double tol = type == DataType::kHALF ? 1e-3 : 1e-6;
                    // A symmetric window of one sample divides 0 by 0 on both backends.
                    if (size == 1 && !periodic) continue;
                    EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference[0].toDoubleVector(), tol, tol), "")
                        << label;
                }
            }
        }
    }
}

TEST_F(CudaSignalTest, MelWeightMatrixMatchesCpu) {
    struct Case {
        int64_t bins, dftLength, sampleRate;
        float lower, upper;
    };
    for (const Case& c : std::vector<Case>{{8, 16, 8192, 0.0f, 4096.0f}, {10, 64, 16000, 20.0f, 7600.0f},
                                           {3, 9, 100, 5.0f, 45.0f}}) {
        Tensor bins = int64Scalar(c.bins), dft = int64Scalar(c.dftLength), rate = int64Scalar(c.sampleRate);
        Tensor lower = Tensor::scalarFloat(c.lower), upper = Tensor::scalarFloat(c.upper);
        for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE}) {
            AttributeMap attrs;
            attrs.set("output_datatype", static_cast<int64_t>(dataTypeToOnnx(type)));
            const std::string label = "MelWeightMatrix " + std::to_string(c.bins) + " bins, dft " +
                                      std::to_string(c.dftLength) + " " + dataTypeName(type);
            std::vector<Tensor> reference = cpuReference("MelWeightMatrix", {&bins, &dft, &rate, &lower, &upper}, 1, attrs);
            ASSERT_EQ(reference.size(), 1u) << label;
            auto gpu = runOnCuda(*mBackend, mStream, "MelWeightMatrix", {&bins, &dft, &rate, &lower, &upper}, {type},
                                 {reference[0].shape()}, attrs);
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference[0].toDoubleVector(), 1e-6, 1e-6), "")
                << label;
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
