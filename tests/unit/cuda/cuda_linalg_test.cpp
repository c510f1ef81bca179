// The CUDA Einsum, Det and the forms of MatMul, ReduceMax / ReduceMin, Softmax and MaxPool that had no
// CUDA kernel before, against the CPU backend on random data: Einsum equations with diagonals, sums
// within one operand, ellipses, broadcasting and three operands; Det of batches; MatMul with 1-D operands,
// mixed batch broadcasting and on double, bfloat16 and integers; ReduceMax / ReduceMin of bool and
// integers (empty sets too); Softmax / LogSoftmax on double and bfloat16; MaxPool on int8 / uint8;
// GlobalAveragePool / GlobalMaxPool on float16, bfloat16 and double.

#include <gtest/gtest.h>

#include "backends/precision_attributes.h"
#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaLinalgTest = CudaTest;

double tolerance(DataType type) {
    switch (type) {
        case DataType::kHALF: return 1e-2;
        case DataType::kBF16: return 3e-2;
        case DataType::kFLOAT: return 1e-4;
        case DataType::kDOUBLE: return 1e-10;
        default: return 0.0;  // integers and bool: exact
    }
}

TEST_F(CudaLinalgTest, EinsumMatchesCpu) {
    struct EinsumCase {
        std::string equation;
        std::vector<Shape> shapes;
    };
    const std::vector<EinsumCase> cases = {
        {"ij,jk->ik", {{3, 4}, {4, 5}}},
        {"bij,bjk->bik", {{2, 3, 4}, {2, 4, 5}}},
        {"bhqd,bhkd->bhqk", {{2, 3, 4, 8}, {2, 3, 5, 8}}},
        {"ii->i", {{5, 5}}},
        {"...ii->...i", {{3, 5, 5}}},
        {"ij->ji", {{3, 4}}},
        {"ij->", {{3, 4}}},
        {"i,i", {{7}, {7}}},
        {"->", {{}}},
        {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 2}}},
        {"...j,...j->...", {{2, 1, 6}, {3, 6}}},  // broadcast ellipsis extents
        {"ijk->ki", {{2, 3, 4}}},
        {"ij,kj", {{3, 4}, {2, 4}}},  // implicit output: ik
    };
    uint32_t seed = 1;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kINT64}) {
        for (const EinsumCase& c : cases) {
            std::vector<Tensor> tensors;
            for (const Shape& s : c.shapes) tensors.push_back(test::randomTensor(type, s, -3.0, 3.0, seed++));
            std::vector<const Tensor*> inputs;
            for (const Tensor& t : tensors) inputs.push_back(&t);
            AttributeMap attrs;
            attrs.set("equation", c.equation);
            const double tol = tolerance(type);
            expectMatchesCpu(*mBackend, mStream, "Einsum", inputs, attrs, tol, tol,
                             "Einsum '" + c.equation + "' " + dataTypeName(type));
        }
    }
}

TEST_F(CudaLinalgTest, DetMatchesCpu) {
    uint32_t seed = 100;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF}) {
        for (const Shape& shape : {Shape{2, 2}, Shape{3, 3}, Shape{4, 5, 5}, Shape{2, 3, 1, 1}, Shape{6, 4, 4}}) {
            Tensor x = test::randomTensor(type, shape, -2.0, 2.0, seed++);
            const double tol = type == DataType::kDOUBLE ? 1e-9 : tolerance(type);
            expectMatchesCpu(*mBackend, mStream, "Det", {&x}, {}, tol, tol,
                             "Det " + std::string(dataTypeName(type)) + " " + shapeLabel(shape));
        }
    }
    // A singular matrix (two equal rows) has determinant 0.
    Tensor singular = test::randomTensor(DataType::kFLOAT, {3, 3}, -1.0, 1.0, 7);
    for (int c = 0; c < 3; ++c) singular.data<float>()[3 + c] = singular.data<float>()[c];
    expectMatchesCpu(*mBackend, mStream, "Det", {&singular}, {}, 0.0, 1e-6, "Det of a singular matrix");
}

TEST_F(CudaLinalgTest, MatMulFormsMatchCpu) {
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{3}, {3}},                  // vector . vector -> scalar
        {{4}, {2, 4, 1}},            // 1-D A
        {{1, 2, 4, 3}, {3}},         // 1-D B
        {{2, 3, 4}, {4, 5}},         // batched A, one B
        {{2, 1, 3, 4}, {1, 5, 4, 2}},  // mixed broadcasting
        {{5, 7}, {7, 3}},
    };
    uint32_t seed = 200;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE, DataType::kINT32,
                          DataType::kINT64, DataType::kUINT32}) {
        for (const auto& [a, b] : shapes) {
            const bool unsigned_ = type == DataType::kUINT32;
            Tensor ta = test::randomTensor(type, a, unsigned_ ? 0.0 : -4.0, 4.0, seed++);
            Tensor tb = test::randomTensor(type, b, unsigned_ ? 0.0 : -4.0, 4.0, seed++);
            const double tol = tolerance(type);
            AttributeMap noTf32;  // float products in full FP32, so that the float tolerance is FP32's
            noTf32.set(kAllowTf32Attribute, int64_t{0});
            expectMatchesCpu(*mBackend, mStream, "MatMul", {&ta, &tb}, noTf32, tol, tol * 4,
                             "MatMul " + std::string(dataTypeName(type)) + " " + shapeLabel(a) + " x " + shapeLabel(b));
        }
    }
}

TEST_F(CudaLinalgTest, ReduceMaxAndMinOfBoolAndIntegersMatchCpu) {
    uint32_t seed = 300;
    struct ReduceCase {
        Shape shape;
        std::vector<int64_t> axes;
        int64_t keepdims;
    };
    const std::vector<ReduceCase> cases = {
        {{4, 2}, {1}, 1}, {{2, 3, 4}, {0, 2}, 0}, {{2, 0, 4}, {1}, 1}, {{3, 5}, {-1}, 1}, {{6}, {0}, 0}};
    for (const char* op : {"ReduceMax", "ReduceMin"}) {
        for (DataType type : {DataType::kBOOL, DataType::kINT32, DataType::kINT64, DataType::kUINT8, DataType::kINT8,
                              DataType::kBF16}) {
            for (const ReduceCase& c : cases) {
                Tensor x = test::randomTensor(type, c.shape, type == DataType::kUINT8 ? 0.0 : -50.0, 50.0, seed++);
                AttributeMap attrs;
                attrs.set("keepdims", c.keepdims);
                Tensor axes = Tensor::fromInt64(c.axes, {static_cast<int64_t>(c.axes.size())});
                const double tol = tolerance(type);
                expectMatchesCpu(*mBackend, mStream, op, {&x, &axes}, attrs, tol, tol,
                                 std::string(op) + " " + dataTypeName(type) + " " + shapeLabel(c.shape));
            }
        }
    }
}

TEST_F(CudaLinalgTest, SoftmaxOnDoubleAndBfloat16MatchesCpu) {
    uint32_t seed = 400;
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
        for (DataType type : {DataType::kDOUBLE, DataType::kBF16}) {
            for (int64_t axis : {-1, 0, 1}) {
                const Shape shape{3, 70, 4};
                Tensor x = test::randomTensor(type, shape, -5.0, 5.0, seed++);
                AttributeMap attrs;
                attrs.set("axis", axis);
                const double tol = tolerance(type);
                expectMatchesCpu(*mBackend, mStream, op, {&x}, attrs, tol, tol,
                                 std::string(op) + " " + dataTypeName(type) + " axis " + std::to_string(axis));
            }
        }
    }
}

TEST_F(CudaLinalgTest, MaxPoolOnSmallIntegersAndBfloat16MatchesCpu) {
    uint32_t seed = 500;
    for (DataType type : {DataType::kUINT8, DataType::kINT8, DataType::kBF16}) {
        Tensor x = test::randomTensor(type, {1, 2, 5, 6}, type == DataType::kUINT8 ? 0.0 : -100.0, 100.0, seed++);
        AttributeMap attrs;
        attrs.set("kernel_shape", std::vector<int64_t>{3, 3});
        attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
        attrs.set("strides", std::vector<int64_t>{2, 1});
        expectMatchesCpu(*mBackend, mStream, "MaxPool", {&x}, attrs, 0.0, 0.0,
                         std::string("MaxPool ") + dataTypeName(type));
    }
}

TEST_F(CudaLinalgTest, GlobalPoolingOnNarrowAndDoubleTypesMatchesCpu) {
    uint32_t seed = 600;
    for (DataType type : {DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}) {
        for (const Shape& shape : {Shape{2, 64, 7, 7}, Shape{1, 3, 1, 1}, Shape{3, 5, 33, 17}, Shape{2, 4, 9}}) {
            Tensor x = test::randomTensor(type, shape, -3.0, 3.0, seed++);
            const double tol = tolerance(type);
            expectMatchesCpu(*mBackend, mStream, "GlobalAveragePool", {&x}, {}, tol, tol,
                             std::string("GlobalAveragePool ") + dataTypeName(type) + " " + shapeLabel(shape));
            expectMatchesCpu(*mBackend, mStream, "GlobalMaxPool", {&x}, {}, 0.0, 0.0,
                             std::string("GlobalMaxPool ") + dataTypeName(type) + " " + shapeLabel(shape));
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
