// The CUDA selection ops against the CPU backend on random data: TopK (every axis, negative axes,
// largest and smallest, K from 0 to the extent, ties, every supported type) and the ops whose output
// shape depends on values, NonZero, Unique and NonMaxSuppression (device kernels, and the host path for
// what they do not take: other types, Unique along an axis), both when the output shapes are known to
// the caller and when the kernel reports them first (Kernel::computeOutputShapes, as a run with
// data-dependent shapes does). The device NonMaxSuppression and Unique must equal the CPU byte for byte:
// ties in score order, every threshold and limit, omitted inputs, fewer outputs, zeros of both signs.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
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
/// A nullptr input is an omitted optional one; a non-empty `tacticPrefix` is the start of the tactic expected.
void expectReportedShapesAndValuesSameAsCpu(Backend& backend, Stream stream, const std::string& opType,
                                            const std::vector<const Tensor*>& inputs, size_t numOutputs,
                                            const AttributeMap& attrs, const std::string& label,
                                            const std::string& tacticPrefix = "") {
    std::vector<Tensor> reference = cpuReference(opType, inputs, numOutputs, attrs);
    ASSERT_EQ(reference.size(), numOutputs) << label;
    Graph graph;
    std::vector<Value*> ins;
    for (size_t i = 0; i < inputs.size(); ++i)
        ins.push_back(inputs[i] ? graph.addInput("in" + std::to_string(i), inputs[i]->dtype(), fromConcrete(inputs[i]->shape()))
                                : nullptr);
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
    if (!tacticPrefix.empty())
        EXPECT_EQ((*kernel)->tacticName().rfind(tacticPrefix, 0), 0u) << label << ": tactic " << (*kernel)->tacticName();
    std::string why;
    EXPECT_FALSE((*kernel)->isCapturable(&why)) << label;
    EXPECT_FALSE(why.empty()) << label;

    std::vector<std::unique_ptr<DeviceBuffer>> buffers;
    std::vector<TensorView> inViews;
    for (const Tensor* t : inputs) {
        if (!t) {
            inViews.emplace_back();
            continue;
        }
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

/// The explicit-shape path (outputs of the CPU's shapes, run() alone) with every output byte for byte
/// equal to the CPU's (so -0 and +0 differ), on a kernel whose tactic starts with `tacticPrefix`.
void expectBitwiseSameAsCpu(Backend& backend, Stream stream, const std::string& opType,
                            const std::vector<const Tensor*>& inputs, size_t numOutputs, const AttributeMap& attrs,
                            const std::string& tacticPrefix, const std::string& label) {
    PairedOutputs paired = runOnCpuAndGpu(backend, stream, opType, inputs, numOutputs, attrs, label);
    if (paired.gpu.empty()) return;
    EXPECT_EQ(paired.tactic.rfind(tacticPrefix, 0), 0u) << label << ": tactic " << paired.tactic;
    for (size_t k = 0; k < numOutputs; ++k) {
        ASSERT_EQ(paired.gpu[k].shape(), paired.cpu[k].shape()) << label << " output " << k;
        ASSERT_EQ(paired.gpu[k].dtype(), paired.cpu[k].dtype()) << label << " output " << k;
        EXPECT_EQ(std::memcmp(paired.gpu[k].data(), paired.cpu[k].data(), paired.cpu[k].byteSize()), 0)
            << label << " output " << k << ": "
            << test::compareWithReference(paired.gpu[k], paired.cpu[k].toDoubleVector(), 0.0, 0.0);
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

/// Float boxes [batches, count, 4] in [0, 10), the second half of each batch repeating the first
/// (identical boxes overlap fully).
Tensor nmsBoxes(int64_t batches, int64_t count, uint32_t seed) {
    Tensor boxes = test::randomTensor(DataType::kFLOAT, {batches, count, 4}, 0.0, 10.0, seed);
    float* p = boxes.data<float>();
    for (int64_t b = 0; b < batches; ++b)
        for (int64_t i = count / 2; i < count; ++i)
            if (i - count / 2 < count / 4) std::copy_n(p + (b * count + i - count / 2) * 4, 4, p + (b * count + i) * 4);
    return boxes;
}

TEST_F(CudaSelectionTest, NonMaxSuppressionDeviceKernelMatchesCpuOnEveryOptionAndTie) {
    uint32_t seed = 500;
    const std::vector<std::tuple<int64_t, int64_t, int64_t>> sizes = {{1, 1, 1}, {1, 2, 7}, {3, 4, 70}, {2, 3, 300}, {2, 2, 0}};
    for (int64_t centerPointBox : {0, 1}) {
        for (auto [batches, classes, count] : sizes) {
            Tensor boxes = nmsBoxes(batches, count, seed++);
            // Whole scores in [0, 5]: many ties, taken lower index first; or distinct ones in [0, 5).
            Tensor tiedScores =
                convertTensor(test::randomTensor(DataType::kINT32, {batches, classes, count}, 0.0, 5.0, seed++), DataType::kFLOAT);
            Tensor distinctScores = test::randomTensor(DataType::kFLOAT, {batches, classes, count}, 0.0, 5.0, seed++);
            for (const Tensor* scores : {&tiedScores, &distinctScores}) {
                for (int64_t maxOut : {int64_t{0}, int64_t{1}, int64_t{3}, count + 5}) {
                    Tensor maxTensor = Tensor::fromInt64({maxOut}, {1});
                    // (iou_threshold, score_threshold): suppress any overlap, none pass, some pass, all pass
                    // with no suppression but of identical boxes.
                    for (auto [iou, score] : std::vector<std::pair<float, float>>{{0.0f, -1.0f}, {0.3f, 10.0f}, {0.5f, 2.0f}, {1.0f, -1.0f}}) {
                        Tensor iouTensor = Tensor::scalarFloat(iou);
                        Tensor scoreTensor = Tensor::scalarFloat(score);
                        AttributeMap attrs;
                        attrs.set("center_point_box", centerPointBox);
                        const std::string label = "NonMaxSuppression " + std::to_string(batches) + "x" +
                                                  std::to_string(classes) + "x" + std::to_string(count) + " center " +
                                                  std::to_string(centerPointBox) + (scores == &tiedScores ? " tied" : " distinct") +
                                                  " max " + std::to_string(maxOut) + " iou " + std::to_string(iou) +
                                                  " score " + std::to_string(score);
                        const std::vector<std::pair<std::vector<const Tensor*>, std::string>> variants = {
                            {{&boxes, scores, &maxTensor, &iouTensor, &scoreTensor}, ""},
                            {{&boxes, scores, &maxTensor, nullptr, &scoreTensor}, " without iou_threshold"},
                            {{&boxes, scores, &maxTensor, &iouTensor}, " without score_threshold"},
                        };
                        for (const auto& [inputs, suffix] : variants) {
                            expectBitwiseSameAsCpu(*mBackend, mStream, "NonMaxSuppression", inputs, 1, attrs, "cuda.nms",
                                                   label + suffix);
                            expectReportedShapesAndValuesSameAsCpu(*mBackend, mStream, "NonMaxSuppression", inputs, 1,
                                                                   attrs, label + suffix + " (reported)", "cuda.nms");
                        }
                    }
                }
                AttributeMap attrs;
                attrs.set("center_point_box", centerPointBox);
                expectReportedShapesAndValuesSameAsCpu(*mBackend, mStream, "NonMaxSuppression", {&boxes, scores}, 1, attrs,
                                                       "NonMaxSuppression without limits (reported)", "cuda.nms");
            }
        }
    }
}

TEST_F(CudaSelectionTest, NonMaxSuppressionDeviceKernelRejectsIouThresholdOutsideUnitRange) {
    Tensor boxes = nmsBoxes(1, 5, 600);
    Tensor scores = test::randomTensor(DataType::kFLOAT, {1, 2, 5}, 0.0, 1.0, 601);
    Tensor maxOut = Tensor::fromInt64({3}, {1});
    Tensor iou = Tensor::scalarFloat(1.5f);
    auto run = runOnCuda(*mBackend, mStream, "NonMaxSuppression", {&boxes, &scores, &maxOut, &iou}, {DataType::kINT64},
                         {Shape{0, 3}}, {});
    ASSERT_FALSE(run.isOk());
    EXPECT_NE(run.status().message().find("iou_threshold"), std::string::npos) << run.status().message();
}

/// Flat Unique inputs of `type` with `count` elements: repeats of small whole values, negatives
/// included; all equal; all distinct (a shuffled range); and, for floating types, zeros of both signs.
std::vector<std::pair<Tensor, std::string>> uniqueInputs(DataType type, int64_t count, uint32_t seed) {
    std::vector<std::pair<Tensor, std::string>> inputs;
    const double spread = type == DataType::kINT8 ? 100.0 : 3.0;
    inputs.emplace_back(convertTensor(test::randomTensor(DataType::kINT32, {count}, -spread, spread, seed), type), "repeats");
    Tensor same = Tensor::allocate(DataType::kFLOAT, {count});
    std::fill_n(same.data<float>(), count, -2.0f);
    inputs.emplace_back(convertTensor(same, type), "all equal");
    if (type != DataType::kINT8 || count <= 256) {
        Tensor distinct = Tensor::allocate(DataType::kFLOAT, {count});
        std::iota(distinct.data<float>(), distinct.data<float>() + count, -static_cast<float>(count / 2));
        std::shuffle(distinct.data<float>(), distinct.data<float>() + count, std::mt19937(seed));
        inputs.emplace_back(convertTensor(distinct, type), "all distinct");
    }
    if (type == DataType::kFLOAT || type == DataType::kDOUBLE) {
        Tensor zeros = Tensor::allocate(DataType::kFLOAT, {count});
        std::mt19937 rng(seed + 1);
        const float choices[] = {-0.0f, 0.0f, 1.5f, -1.5f};
        for (int64_t i = 0; i < count; ++i) zeros.data<float>()[i] = choices[rng() % 4];
        inputs.emplace_back(convertTensor(zeros, type), "signed zeros");
    }
    return inputs;
}

TEST_F(CudaSelectionTest, UniqueDeviceKernelMatchesCpuBitwise) {
    uint32_t seed = 700;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64, DataType::kINT8}) {
        for (int64_t count : {int64_t{1}, int64_t{9}, int64_t{1000}, int64_t{70000}}) {
            for (auto& [flat, kind] : uniqueInputs(type, count, seed++)) {
                // The same elements as a matrix: without axis Unique flattens it.
                Tensor matrix = flat;
                if (count % 10 == 0) matrix = Tensor::wrap(type, {10, count / 10}, flat.data(), nullptr);
                for (int64_t sorted : {1, 0}) {
                    AttributeMap attrs;
                    attrs.set("sorted", sorted);
                    const std::string label = std::string("Unique ") + dataTypeName(type) + " " + std::to_string(count) +
                                              " " + kind + (sorted ? " sorted" : " unsorted");
                    for (size_t outputs : {size_t{4}, size_t{2}, size_t{1}}) {
                        expectBitwiseSameAsCpu(*mBackend, mStream, "Unique", {&matrix}, outputs, attrs, "cuda.unique",
                                               label + " " + std::to_string(outputs) + " outputs");
                        expectReportedShapesAndValuesSameAsCpu(*mBackend, mStream, "Unique", {&matrix}, outputs, attrs,
                                                               label + " " + std::to_string(outputs) +
                                                                   " outputs (reported)",
                                                               "cuda.unique");
                    }
                    AttributeMap onAxis = attrs;
                    onAxis.set("axis", int64_t{-1});
                    expectBitwiseSameAsCpu(*mBackend, mStream, "Unique", {&flat}, 4, onAxis, "cuda.unique", label + " axis -1");
                }
            }
        }
    }
}

}  // namespace
}  // namespace kiln::cudatest
