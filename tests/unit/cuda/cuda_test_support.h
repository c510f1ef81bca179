#pragma once
// Helpers of the CUDA backend's tests: the backend (or the reason it is missing), one node run on the
// GPU through the Backend interface only, and the CPU backend's result as the reference.
//
// Kernels are reached through the Backend interface alone, so without the toolkit these tests still
// build, and every test skips with the reason getBackend("cuda") gave. Where the backend is built
// (KILN_TEST_HAVE_CUDA_BACKEND) they run on a non-blocking stream of their own, so a kernel launched on
// another stream than io.stream shows as a wrong result.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/device_buffer.h"
#include "ir/graph.h"
#include "test_support.h"

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include <cuda_runtime.h>
#endif

namespace kiln::cudatest {

/// The CUDA backend, or nullptr with `why` saying what getBackend reported.
inline Backend* cudaBackend(std::string* why) {
    static std::string error;
    static Backend* backend = getBackend("cuda", &error);
    if (why) *why = error;
    return backend;
}

/// Every GPU test derives from this: it skips, with the reason, when there is no usable CUDA backend.
class CudaTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        mBackend = cudaBackend(&why);
        // `why` is getBackend's message: "backend 'cuda' could not start: no CUDA device: ..." (no GPU
        // or driver) or "backend 'cuda' is not available: ..." (the library was not built or not found).
        if (!mBackend) GTEST_SKIP() << why;
#ifdef KILN_TEST_HAVE_CUDA_BACKEND
        ASSERT_EQ(cudaStreamCreateWithFlags(reinterpret_cast<cudaStream_t*>(&mStream), cudaStreamNonBlocking),
                  cudaSuccess);
#endif
    }
    void TearDown() override {
#ifdef KILN_TEST_HAVE_CUDA_BACKEND
        if (mStream) cudaStreamDestroy(static_cast<cudaStream_t>(mStream));
#endif
    }

    Backend* mBackend{nullptr};
    Stream mStream{nullptr};
};

/// A copy of `t` with every element converted to `type` (exactly, for float16 -> float).
inline Tensor convertTensor(const Tensor& t, DataType type) {
    Tensor out = Tensor::allocate(type, t.shape());
    dispatchDataType(type, [&](auto tag) {
        using T = decltype(tag);
        T* p = out.data<T>();
        for (int64_t i = 0; i < t.elementCount(); ++i) {
            if constexpr (std::is_same_v<T, bool>)
                p[i] = t.elementAsDouble(i) != 0;
            else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                p[i] = T(static_cast<float>(t.elementAsDouble(i)));
            else
                p[i] = static_cast<T>(t.elementAsDouble(i));
        }
    });
    return out;
}

struct CudaRun {
    std::vector<Tensor> outputs;
    std::string tactic;
};

/// Runs one `opType` node on the CUDA backend: inputs copied to the device, outputs of `outputTypes` and
/// `outputShapes` (poisoned with NaN bytes first, so an element the kernel never writes fails the
/// comparison), copied back after the stream synchronizes. A nullptr input is an omitted optional one.
/// `domain` is "kiln" for Kiln's fused layers. `byteOffsets` (inputs first, then outputs; missing ones
/// 0) places a tensor that many bytes past the start of its device buffer: a multiple of the element
/// size that is not of 16 gives the kernels a misaligned address (their vector paths must fall back).
inline Expected<CudaRun> runOnCuda(Backend& backend, Stream stream, const std::string& opType,
                                   const std::vector<const Tensor*>& inputs, const std::vector<DataType>& outputTypes,
                                   const std::vector<Shape>& outputShapes, const AttributeMap& attrs,
                                   const std::string& domain = "", const std::vector<size_t>& byteOffsets = {}) {
    Graph graph;
    std::vector<Value*> ins;
    for (size_t i = 0; i < inputs.size(); ++i)
        ins.push_back(
            inputs[i] ? graph.addInput("in" + std::to_string(i), inputs[i]->dtype(), fromConcrete(inputs[i]->shape()))
                      : nullptr);
    Node* node = graph.addNode(opType, "node", ins, {}, outputTypes.size());
    node->domain = domain;
    node->attrs = attrs;
    for (size_t i = 0; i < outputTypes.size(); ++i) {
        node->outputs[i]->dtype = outputTypes[i];
        node->outputs[i]->shape = fromConcrete(outputShapes[i]);
        node->outputs[i]->typeKnown = true;
    }

    std::string reason;
    if (!backend.supports(*node, &reason)) return unsupported("not supported: " + reason);
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, backend.createKernel(*node));

    std::vector<std::unique_ptr<DeviceBuffer>> buffers;
    auto offsetOf = [&](size_t index) { return index < byteOffsets.size() ? byteOffsets[index] : size_t{0}; };
    // A buffer of `bytes` starting `offset` bytes into a fresh allocation.
    auto placed = [&](size_t bytes, size_t offset) -> void* {
        buffers.push_back(std::make_unique<DeviceBuffer>(backend, bytes + offset));
        return static_cast<uint8_t*>(buffers.back()->get()) + offset;
    };
    std::vector<TensorView> inViews;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor* t = inputs[i];
        if (!t) {
            inViews.push_back(TensorView{});
            continue;
        }
        void* data = placed(t->byteSize(), offsetOf(i));
        KILN_RETURN_IF_ERROR(backend.copyToDevice(data, t->data(), t->byteSize(), stream));
        inViews.push_back({t->dtype(), t->shape(), data});
    }
    std::vector<TensorView> outViews;
    for (size_t i = 0; i < outputTypes.size(); ++i) {
        TensorView view{outputTypes[i], outputShapes[i], nullptr};
        view.data = placed(view.byteSize(), offsetOf(inputs.size() + i));
        std::vector<uint8_t> poison(view.byteSize(), 0xFF);  // NaN in float and float16
        KILN_RETURN_IF_ERROR(backend.copyToDevice(view.data, poison.data(), poison.size(), stream));
        outViews.push_back(view);
    }

    KILN_RETURN_IF_ERROR(kernel->reshape(inViews, outViews));
    const size_t workspaceBytes = kernel->workspaceSize();
    DeviceBuffer workspace(backend, workspaceBytes);
    KernelIO io;
    io.inputs = inViews.data();
    io.numInputs = inViews.size();
    io.outputs = outViews.data();
    io.numOutputs = outViews.size();
    io.workspace = workspaceBytes ? workspace.get() : nullptr;
    io.workspaceBytes = workspaceBytes;
    io.stream = stream;
    KILN_RETURN_IF_ERROR(kernel->run(io));
    KILN_RETURN_IF_ERROR(backend.synchronize(stream));

    CudaRun run;
    run.tactic = kernel->tacticName();
    for (const TensorView& view : outViews) {
        run.outputs.push_back(Tensor::allocate(view.dtype, view.shape));
        KILN_RETURN_IF_ERROR(backend.copyToHost(run.outputs.back().data(), view.data, view.byteSize(), stream));
    }
    KILN_RETURN_IF_ERROR(backend.synchronize(stream));
    return run;
}

/// The CPU backend's outputs for `opType` on `inputs` (the reference of every GPU result).
inline std::vector<Tensor> cpuReference(const std::string& opType, const std::vector<const Tensor*>& inputs,
                                        size_t numOutputs, const AttributeMap& attrs) {
    test::SingleNodeRun ref = test::runSingleNode(opType, inputs, numOutputs, attrs);
    EXPECT_TRUE(ref.status.isOk()) << "CPU reference for " << opType << ": " << ref.status.message();
    return ref.outputs;
}

/// `inputs` with the float16 ones replaced by float copies kept in `storage`: the CPU reference computes
/// them in float, as the CUDA kernels do.
inline std::vector<const Tensor*> halfInputsAsFloat(const std::vector<const Tensor*>& inputs,
                                                    std::vector<Tensor>& storage) {
    storage.clear();
    storage.reserve(inputs.size());
    std::vector<const Tensor*> result;
    for (const Tensor* t : inputs) {
        if (t && t->dtype() == DataType::kHALF) {
            storage.push_back(convertTensor(*t, DataType::kFLOAT));
            result.push_back(&storage.back());
        } else {
            result.push_back(t);
        }
    }
    return result;
}

/// Runs `opType` on the GPU with `inputs` of their own types and compares output 0 with the CPU result
/// on the same inputs converted to float (float16 and float inputs: a float reference; other types:
/// the CPU result on the inputs themselves). A float reference computed from float16 inputs stands for
/// a float16 output (whichever input carries the type: OneHot's values are its third input).
inline void expectMatchesCpu(Backend& backend, Stream stream, const std::string& opType,
                             const std::vector<const Tensor*>& inputs, const AttributeMap& attrs, double rtol,
                             double atol, const std::string& label) {
    std::vector<Tensor> converted;
    std::vector<const Tensor*> refInputs = halfInputsAsFloat(inputs, converted);
    std::vector<Tensor> reference = cpuReference(opType, refInputs, 1, attrs);
    ASSERT_EQ(reference.size(), 1u) << label;
    const bool halfInput = !converted.empty();
    const DataType outType =
        halfInput && reference[0].dtype() == DataType::kFLOAT ? DataType::kHALF : reference[0].dtype();
    auto gpu = runOnCuda(backend, stream, opType, inputs, {outType}, {reference[0].shape()}, attrs);
    ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
    EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference[0].toDoubleVector(), rtol, atol), "")
        << label << " (tactic " << gpu->tactic << ")";
}

/// A pair of shapes that broadcast together: a random output shape of rank 1..maxRank with extents
/// 1..maxDim, and for each input, some leading dims dropped and some dims set to 1.
inline std::pair<Shape, Shape> randomBroadcastPair(std::mt19937& rng, int maxRank, int64_t maxDim) {
    std::uniform_int_distribution<int> rankDist(1, maxRank);
    std::uniform_int_distribution<int64_t> dimDist(1, maxDim);
    std::bernoulli_distribution coin(0.3);
    Shape out(static_cast<size_t>(rankDist(rng)));
    for (int64_t& d : out) d = dimDist(rng);
    auto derive = [&]() {
        std::uniform_int_distribution<size_t> dropDist(0, out.size());
        size_t drop = coin(rng) ? dropDist(rng) : 0;
        Shape s(out.begin() + static_cast<std::ptrdiff_t>(drop), out.end());
        for (int64_t& d : s)
            if (coin(rng)) d = 1;
        return s;
    };
    return {derive(), derive()};
}

inline std::string shapeLabel(const Shape& s) {
    return shapeToString(s, true);
}

}  // namespace kiln::cudatest
