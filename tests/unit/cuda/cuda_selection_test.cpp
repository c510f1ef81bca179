// The CUDA selection ops against the CPU backend on random data: TopK (every axis, negative axes,
// largest and smallest, K from 0 to the extent, ties, every supported type) and the ops whose output
// shape depends on values, NonZero (device kernel, and the host path for other types), Unique and
// NonMaxSuppression, both when the output shapes are known
// to the caller and when the kernel reports them first (Kernel::computeOutputShapes, as a run with
// data-dependent shapes does).

#include <gtest/gtest.h>

#include <algorithm>

#include <optional>
#include <random>
#include <tuple>

#include "cuda_reference_outputs.h"
#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaSelectionTest = CudaTest;

/// Runs `opType` on the GPU with output shapes from the CPU reference and compares every output exactly.
void expectAllOutputsSameAsCpu(Backend& backend, Stream stream, const std::string& opType,
                               const std::vector<const Tensor*>& inputs, size_t numOutputs, const AttributeMap& attrs,
                               const std::string& label) {
    expectOutputsMatchCpu(backend, stream, opType, inputs, numOutputs, attrs, Tolerance{0.0, 0.0}, label);
}

/// The data-dependent path: the kernel reports the output shapes from the device inputs, then runs into
/// outputs of those shapes. Every output must equal the CPU result, shapes included.
void expectReportedShapesAndValuesSameAsCpu(Backend& backend, Stream stream, const std::string& opType,
                                            const std::vector<const Tensor*>& inputs, size_t numOutputs,
                                            const AttributeMap& attrs, const std::string& label) {
    std::vector<Tensor> reference = cpuReference(opType, inputs, numOutputs, attrs);
    ASSERT_EQ(reference.size(), numOutputs) << label;
    Graph graph;
    std::vector<Value*> ins;
    for (size_t i = 0; i < inputs.size(); ++i)
        ins.push_back(graph.addInput("in" + std::to_string(i), inputs[i]->dtype(), fromConcrete(inputs[i]->shape())));
    Node* node = graph.addNode(opType, "node", ins, {}, numOutputs);
    node->attrs = attrs;
    for (size_t i = 0; i < numOutputs; ++i) {
        node->outputs[i]->dtype = reference[i].dtype();
        node->outputs[i]->typeKnown = true;
    }
    std::string reason;
    ASSERT_TRUE(backend.supports(*node, &reason)) << label << ": " << reason;
    auto kernel = backend.createKernel(*node);
    ASSERT_TRUE(kernel.isOk()) << label << ": " << kernel.status().message();
    std::string why;
    EXPECT_FALSE((*kernel)->isCapturable(&why)) << label;
    EXPECT_FALSE(why.empty()) << label;

    std::vector<std::unique_ptr<DeviceBuffer>> buffers;
    std::vector<TensorView> inViews;
    for (const Tensor* t : inputs) {
        buffers.push_back(std::make_unique<DeviceBuffer>(backend, t->byteSize()));
        ASSERT_TRUE(backend.copyToDevice(buffers.back()->get(), t->data(), t->byteSize(), stream).isOk());
        inViews.push_back({t->dtype(), t->shape(), buffers.back()->get()});
    }
    KernelIO io;
    io.inputs = inViews.data();
    io.numInputs = inViews.size();
    io.stream = stream;
    auto shapes = (*kernel)->computeOutputShapes(io);
    ASSERT_TRUE(shapes.isOk()) << label << ": " << shapes.status().message();
    ASSERT_EQ(shapes->size(), numOutputs) << label;
    std::vector<TensorView> outViews;
    for (size_t i = 0; i < numOutputs; ++i) {
        EXPECT_EQ((*shapes)[i], reference[i].shape()) << label << " output " << i;
        TensorView view{reference[i].dtype(), (*shapes)[i], nullptr};
        buffers.push_back(std::make_unique<DeviceBuffer>(backend, view.byteSize()));
        view.data = buffers.back()->get();
        outViews.push_back(view);
    }
    ASSERT_TRUE((*kernel)->reshape(inViews, outViews).isOk()) << label;
    io.outputs = outViews.data();
    io.numOutputs = outViews.size();
    // Scratch as an execution context provides it (the device NonZero keeps CUB's selection there).
    DeviceBuffer workspace(backend, std::max<size_t>((*kernel)->workspaceSize(), 1));
    io.workspace = workspace.get();
    io.workspaceBytes = (*kernel)->workspaceSize();
    ASSERT_TRUE((*kernel)->run(io).isOk()) << label;
    ASSERT_TRUE(backend.synchronize(stream).isOk());
    for (size_t i = 0; i < numOutputs; ++i) {
        Tensor host = Tensor::allocate(outViews[i].dtype, outViews[i].shape);
        ASSERT_TRUE(backend.copyToHost(host.data(), outViews[i].data, host.byteSize(), stream).isOk());
        ASSERT_TRUE(backend.synchronize(stream).isOk());
        EXPECT_EQ(test::compareWithReference(host, reference[i].toDoubleVector(), 0.0, 0.0), "")
            << label << " output " << i;
    }
}

TEST_F(CudaSelectionTest, TopKMatchesCpuOnEveryAxisTypeAndDirection) {
    std::mt19937 rng(7);
    uint32_t seed = 1;
    const std::vector<Shape> shapes = {{9}, {4, 13}, {3, 5, 7}, {2, 1, 6, 3}, {1, 300}, {70, 2}};
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64,
                          DataType::kINT8, DataType::kUINT8, DataType::kUINT32, DataType::kUINT64}) {
        for (const Shape& shape : shapes) {
            const int64_t rank = static_cast<int64_t>(shape.size());
            for (int64_t axis = -rank; axis < rank; ++axis) {
                const int64_t extent = shape[static_cast<size_t>(axis < 0 ? axis + rank : axis)];
                // Integer-valued data in a small range: many ties, which must keep the lower index first.
                const bool isUnsigned = type == DataType::kUINT8 || type == DataType::kUINT32 || type == DataType::kUINT64;
                Tensor ints = test::randomTensor(DataType::kINT32, shape, isUnsigned ? 0.0 : -4.0, 4.0, seed++);
                Tensor x = convertTensor(ints, type);
                std::uniform_int_distribution<int64_t> kDist(0, extent);
                for (int64_t k : {kDist(rng), extent, int64_t{1}}) {
                    Tensor kTensor = Tensor::fromInt64({k}, {1});
                    for (int64_t largest : {0, 1}) {
                        AttributeMap attrs;
                        attrs.set("axis", axis);
                        attrs.set("largest", largest);
                        expectAllOutputsSameAsCpu(*mBackend, mStream, "TopK", {&x, &kTensor}, 2, attrs,
                                                  std::string("TopK ") + dataTypeName(type) + " " + shapeLabel(shape) +
                                                      " axis " + std::to_string(axis) + " k " + std::to_string(k) +
                                                      (largest ? " largest" : " smallest"));
                    }
                }
            }
        }
    }
}

TEST_F(CudaSelectionTest, TopKOnDistinctRandomValuesAndDefaultAttributes) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {6, 50}, -10.0, 10.0, 99);
    Tensor k = Tensor::fromInt64({7}, {1});
    expectAllOutputsSameAsCpu(*mBackend, mStream, "TopK", {&x, &k}, 2, {}, "TopK defaults");
    AttributeMap unsorted;
    unsorted.set("sorted", int64_t{0});
    expectAllOutputsSameAsCpu(*mBackend, mStream, "TopK", {&x, &k}, 2, unsorted, "TopK sorted=0");
}

TEST_F(CudaSelectionTest, NonZeroMatchesCpu) {
    uint32_t seed = 200;
    // uint16 has no device kernel: it is evaluated on the host.
    for (DataType type : {DataType::kFLOAT, DataType::kINT64, DataType::kBOOL, DataType::kHALF, DataType::kINT8,
                          DataType::kDOUBLE, DataType::kUINT16}) {
        for (const Shape& shape : {Shape{17}, Shape{3, 4}, Shape{2, 3, 5}, Shape{0, 4}, Shape{2, 1, 3, 1, 2, 1, 2, 2},
                                   Shape{100000}}) {
            const double low = type == DataType::kUINT16 ? 0.0 : -1.0;
            Tensor x = convertTensor(test::randomTensor(DataType::kINT32, shape, low, 1.0, seed++), type);
            const std::string label = std::string("NonZero ") + dataTypeName(type) + " " + shapeLabel(shape);
            expectAllOutputsSameAsCpu(*mBackend, mStream, "NonZero", {&x}, 1, {}, label);
            expectReportedShapesAndValuesSameAsCpu(*mBackend, mStream, "NonZero", {&x}, 1, {}, label + " (reported)");
        }
    }
}

TEST_F(CudaSelectionTest, UniqueMatchesCpuWithAndWithoutAxis) {
    uint32_t seed = 300;
    for (DataType type : {DataType::kFLOAT, DataType::kINT64}) {
        for (const Shape& shape : {Shape{12}, Shape{4, 3}, Shape{3, 2, 4}}) {
            Tensor x = convertTensor(test::randomTensor(DataType::kINT32, shape, -2.0, 2.0, seed++), type);
            const int64_t rank = static_cast<int64_t>(shape.size());
            std::vector<std::optional<int64_t>> axes = {std::nullopt, int64_t{0}, -1};
            if (rank > 2) axes.push_back(int64_t{1});
            for (const auto& axis : axes) {
                for (int64_t sorted : {0, 1}) {
                    AttributeMap attrs;
                    attrs.set("sorted", sorted);
                    if (axis) attrs.set("axis", *axis);
                    const std::string label = std::string("Unique ") + dataTypeName(type) + " " + shapeLabel(shape) +
                                              (axis ? " axis " + std::to_string(*axis) : " flat") +
                                              (sorted ? " sorted" : " unsorted");
                    expectAllOutputsSameAsCpu(*mBackend, mStream, "Unique", {&x}, 4, attrs, label);
                    expectReportedShapesAndValuesSameAsCpu(*mBackend, mStream, "Unique", {&x}, 4, attrs,
                                                           label + " (reported)");
                }
            }
        }
    }
}

TEST_F(CudaSelectionTest, NonMaxSuppressionMatchesCpu) {
    std::mt19937 rng(5);
    uint32_t seed = 400;
    for (int64_t centerPointBox : {0, 1}) {
        for (auto [batches, classes, boxes] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 6}, {2, 3, 10}}) {
            // Corners in [0, 10): heavy overlap, so suppression happens.
            Tensor b = test::randomTensor(DataType::kFLOAT, {batches, boxes, 4}, 0.0, 10.0, seed++);
            Tensor s = test::randomTensor(DataType::kFLOAT, {batches, classes, boxes}, 0.0, 1.0, seed++);
            Tensor maxOut = Tensor::fromInt64({std::uniform_int_distribution<int64_t>(1, boxes)(rng)}, {1});
            Tensor iou = Tensor::scalarFloat(0.3f);
            Tensor scoreThreshold = Tensor::scalarFloat(0.2f);
            AttributeMap attrs;
            attrs.set("center_point_box", centerPointBox);
            const std::string label = "NonMaxSuppression " + std::to_string(batches) + "x" + std::to_string(classes) +
                                      "x" + std::to_string(boxes) + " center " + std::to_string(centerPointBox);
            expectAllOutputsSameAsCpu(*mBackend, mStream, "NonMaxSuppression", {&b, &s, &maxOut, &iou, &scoreThreshold},
                                      1, attrs, label);
            expectReportedShapesAndValuesSameAsCpu(*mBackend, mStream, "NonMaxSuppression",
                                                   {&b, &s, &maxOut, &iou, &scoreThreshold}, 1, attrs,
                                                   label + " (reported)");
            expectAllOutputsSameAsCpu(*mBackend, mStream, "NonMaxSuppression", {&b, &s}, 1, attrs,
                                      label + " without limits");
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
