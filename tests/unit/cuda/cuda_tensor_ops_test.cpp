// The CUDA data-movement and mixed-type kernels against the CPU backend on random data: Transpose,
// Slice (negative and stepped), Gather (negative indices, int32 and int64), Concat, Split, the shape
// relabels (Reshape Flatten Squeeze Unsqueeze), Shape, Cast, Equal / Less / Greater and Where. Data
// movement must be exact.

#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaTensorOpsTest = CudaTest;

TEST_F(CudaTensorOpsTest, TransposeMatchesCpu) {
    struct Case {
        Shape shape;
        std::vector<int64_t> perm;
    };
    const std::vector<Case> cases = {{{2, 3, 4, 5}, {0, 2, 1, 3}}, {{4, 7}, {1, 0}}, {{2, 1, 3, 1, 5}, {4, 3, 2, 1, 0}},
                                     {{3, 4, 5}, {}},            {{0, 3}, {1, 0}}, {{2, 12, 16, 64}, {0, 2, 1, 3}}};
    uint32_t seed = 1;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kBOOL}) {
        for (const Case& c : cases) {
            Tensor x = test::randomTensor(type, c.shape, -9.0, 9.0, seed++);
            AttributeMap attrs;
            if (!c.perm.empty()) attrs.set("perm", c.perm);
            expectMatchesCpu(*mBackend, mStream, "Transpose", {&x}, attrs, 0.0, 0.0,
                             std::string("Transpose ") + dataTypeName(type) + " " + shapeLabel(c.shape));
        }
    }
}

TEST_F(CudaTensorOpsTest, SliceMatchesCpu) {
    struct Case {
        Shape shape;
        std::vector<int64_t> starts, ends, axes, steps;
    };
    const std::vector<Case> cases = {
        {{1, 512}, {0}, {16}, {1}, {1}},                   // BERT's position ids
        {{5, 6, 7}, {1, -5}, {4, 100}, {0, 2}, {1, 2}},    // negative start, clamped end, step
        {{8, 9}, {-1}, {-100}, {0}, {-2}},                 // backwards
        {{4, 5}, {0, 0}, {4, 5}, {}, {}},                  // whole tensor, default axes/steps
        {{6, 7}, {3}, {3}, {1}, {1}},                      // empty
    };
    uint32_t seed = 100;
    for (DataType type : {DataType::kFLOAT, DataType::kINT64}) {
        for (const Case& c : cases) {
            Tensor x = test::randomTensor(type, c.shape, -9.0, 9.0, seed++);
            const int64_t n = static_cast<int64_t>(c.starts.size());
            Tensor starts = Tensor::fromInt64(c.starts, {n});
            Tensor ends = Tensor::fromInt64(c.ends, {n});
            Tensor axes = Tensor::fromInt64(c.axes, {static_cast<int64_t>(c.axes.size())});
            Tensor steps = Tensor::fromInt64(c.steps, {static_cast<int64_t>(c.steps.size())});
            std::vector<const Tensor*> inputs = {&x, &starts, &ends};
            if (!c.axes.empty()) inputs.push_back(&axes);
            if (!c.steps.empty()) inputs.push_back(&steps);
            expectMatchesCpu(*mBackend, mStream, "Slice", inputs, {}, 0.0, 0.0,
                             std::string("Slice ") + dataTypeName(type) + " " + shapeLabel(c.shape));
        }
    }
}

TEST_F(CudaTensorOpsTest, GatherMatchesCpu) {
    uint32_t seed = 200;
    struct Case {
        Shape data;
        Shape indices;
        int64_t axis;
    };
    // Rows (the elements after the axis) of 64, 20, 4 and 16 bytes in float, half that in float16: the
    // kernel moves a row in words of up to 16 bytes, so every word width from 2 to 16 bytes runs; the
    // last case is ViT's packed QKV split (a scalar index on the outermost axis).
    const std::vector<Case> cases = {{{50, 16}, {2, 7}, 0},  {{3, 4, 5}, {}, 1},   {{3}, {}, 0},
                                     {{6, 5, 4}, {3, 2}, -1}, {{4, 9, 6}, {5}, 1}, {{3, 5, 8, 64}, {}, 0}};
    for (DataType indexType : {DataType::kINT64, DataType::kINT32})
    for (DataType dataType : {DataType::kFLOAT, DataType::kHALF}) {
        for (const Case& c : cases) {
            const int64_t extent = c.data[static_cast<size_t>(c.axis < 0 ? c.axis + static_cast<int64_t>(c.data.size()) : c.axis)];
            Tensor data = test::randomTensor(dataType, c.data, -5.0, 5.0, seed++);
            // Indices in [-extent, extent): negative ones count from the end.
            Tensor indices = test::randomTensor(indexType, c.indices, static_cast<double>(-extent),
                                                static_cast<double>(extent - 1), seed++);
            AttributeMap attrs;
            attrs.set("axis", c.axis);
            expectMatchesCpu(*mBackend, mStream, "Gather", {&data, &indices}, attrs, 0.0, 0.0,
                             std::string("Gather ") + dataTypeName(dataType) + " " + shapeLabel(c.data) + " by " +
                                 dataTypeName(indexType) + " " + shapeLabel(c.indices));
        }
    }
}

TEST_F(CudaTensorOpsTest, ConcatAndSplitMatchCpu) {
    uint32_t seed = 300;
    for (int64_t axis : {0, 1, -1}) {
        Tensor a = test::randomTensor(DataType::kFLOAT, {2, 3, 4}, -5.0, 5.0, seed++);
        Shape bShape = {2, 3, 4};
        bShape[static_cast<size_t>(axis < 0 ? axis + 3 : axis)] = 5;
        Tensor b = test::randomTensor(DataType::kFLOAT, bShape, -5.0, 5.0, seed++);
        AttributeMap attrs;
        attrs.set("axis", axis);
        expectMatchesCpu(*mBackend, mStream, "Concat", {&a, &b}, attrs, 0.0, 0.0, "Concat axis " + std::to_string(axis));
    }
    Tensor i0 = Tensor::fromInt64({7}, {1});
    Tensor i1 = Tensor::fromInt64({-1, 3}, {2});
    AttributeMap attrs0;
    attrs0.set("axis", int64_t{0});
    expectMatchesCpu(*mBackend, mStream, "Concat", {&i0, &i1}, attrs0, 0.0, 0.0, "Concat int64 shape pieces");

    // Split: BERT's fused QKV projection into three (16-byte words) and uneven splits (4-byte words).
    for (const auto& [shape, sizes] : std::vector<std::pair<Shape, std::vector<int64_t>>>{
             {{2, 16, 2304}, {768, 768, 768}}, {{3, 10}, {2, 3, 5}}, {{4, 6, 9}, {2, 3, 4}}}) {
        Tensor x = test::randomTensor(DataType::kFLOAT, shape, -5.0, 5.0, seed++);
        Tensor split = Tensor::fromInt64(sizes, {static_cast<int64_t>(sizes.size())});
        AttributeMap attrs;
        attrs.set("axis", int64_t{-1});
        std::vector<Tensor> reference = cpuReference("Split", {&x, &split}, sizes.size(), attrs);
        ASSERT_EQ(reference.size(), sizes.size());
        std::vector<DataType> types(sizes.size(), DataType::kFLOAT);
        std::vector<Shape> shapes;
        for (const Tensor& r : reference) shapes.push_back(r.shape());
        auto gpu = runOnCuda(*mBackend, mStream, "Split", {&x, &split}, types, shapes, attrs);
        ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
        for (size_t i = 0; i < sizes.size(); ++i)
            EXPECT_EQ(test::compareWithReference(gpu->outputs[i], reference[i].toDoubleVector(), 0.0, 0.0), "")
                << "Split " << shapeLabel(shape) << " output " << i;
    }
}

TEST_F(CudaTensorOpsTest, ShapeRelabelsAndShapeMatchCpu) {
    uint32_t seed = 400;
    Tensor x = test::randomTensor(DataType::kFLOAT, {2, 3, 1, 4}, -5.0, 5.0, seed++);
    Tensor newShape = Tensor::fromInt64({6, -1}, {2});
    expectMatchesCpu(*mBackend, mStream, "Reshape", {&x, &newShape}, {}, 0.0, 0.0, "Reshape");
    AttributeMap flatten;
    flatten.set("axis", int64_t{2});
    expectMatchesCpu(*mBackend, mStream, "Flatten", {&x}, flatten, 0.0, 0.0, "Flatten");
    Tensor squeezeAxes = Tensor::fromInt64({2}, {1});
    expectMatchesCpu(*mBackend, mStream, "Squeeze", {&x, &squeezeAxes}, {}, 0.0, 0.0, "Squeeze");
    Tensor ids = test::randomTensor(DataType::kINT64, {2, 16}, 0.0, 100.0, seed++);
    Tensor unsqueezeAxes = Tensor::fromInt64({1}, {1});
    expectMatchesCpu(*mBackend, mStream, "Unsqueeze", {&ids, &unsqueezeAxes}, {}, 0.0, 0.0, "Unsqueeze int64");
    expectMatchesCpu(*mBackend, mStream, "Shape", {&x}, {}, 0.0, 0.0, "Shape");
    AttributeMap range;
    range.set("start", int64_t{1});
    range.set("end", int64_t{-1});
    expectMatchesCpu(*mBackend, mStream, "Shape", {&x}, range, 0.0, 0.0, "Shape start 1 end -1");
}

TEST_F(CudaTensorOpsTest, CastCompareAndWhereMatchCpu) {
    uint32_t seed = 500;
    const std::vector<DataType> types = {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kINT32,
                                         DataType::kBOOL,  DataType::kUINT8, DataType::kDOUBLE};
    for (DataType from : types) {
        for (DataType to : types) {
            Tensor x = test::randomTensor(from, {3, 17}, -100.0, 100.0, seed++);
            AttributeMap attrs;
            attrs.set("to", dataTypeToOnnx(to));
            std::vector<Tensor> reference = cpuReference("Cast", {&x}, 1, attrs);
            ASSERT_EQ(reference.size(), 1u);
            auto gpu = runOnCuda(*mBackend, mStream, "Cast", {&x}, {to}, {reference[0].shape()}, attrs);
            ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
            // float -> half rounds the same way on both sides; everything else is exact.
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference[0].toDoubleVector(), 0.0, 0.0), "")
                << "Cast " << dataTypeName(from) << " -> " << dataTypeName(to) << " (tactic " << gpu->tactic << ")";
        }
    }
    for (const char* op : {"Equal", "Less", "Greater"}) {
        for (DataType type : {DataType::kINT64, DataType::kFLOAT}) {
            // Few distinct values, so equal pairs occur.
            Tensor a = test::randomTensor(type, {4, 1, 5}, -2.0, 2.0, seed++);
            Tensor b = test::randomTensor(type, {3, 1}, -2.0, 2.0, seed++);
            if (type == DataType::kFLOAT)
                for (Tensor* t : {&a, &b})
                    for (int64_t i = 0; i < t->elementCount(); ++i) t->data<float>()[i] = std::round(t->data<float>()[i]);
            expectMatchesCpu(*mBackend, mStream, op, {&a, &b}, {}, 0.0, 0.0,
                             std::string(op) + " " + dataTypeName(type));
        }
    }
    // One type of each element size: 1, 2, 4 and 8 bytes. The CPU reference runs on the same types
    // (expectMatchesCpu would give it float copies of half inputs, keyed on input 0, the condition).
    for (DataType type : {DataType::kUINT8, DataType::kHALF, DataType::kFLOAT, DataType::kINT64}) {
        Tensor condition = test::randomTensor(DataType::kBOOL, {2, 1, 4}, 0.0, 1.0, seed++);
        Tensor x = test::randomTensor(type, {3, 4}, 0.0, 9.0, seed++);
        Tensor y = test::randomTensor(type, {2, 3, 1}, 0.0, 9.0, seed++);
        std::vector<Tensor> reference = cpuReference("Where", {&condition, &x, &y}, 1, {});
        ASSERT_EQ(reference.size(), 1u);
        auto gpu = runOnCuda(*mBackend, mStream, "Where", {&condition, &x, &y}, {type}, {reference[0].shape()}, {});
        ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
        EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference[0].toDoubleVector(), 0.0, 0.0), "")
            << "Where " << dataTypeName(type);
    }
}

}  // namespace
}  // namespace kiln::cudatest
