#include <cuda_runtime.h>

#include <cstring>

#include "device_inference_stream.h"
#include "input_data.h"
#include "kiln/cuda_graph.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

Status cudaCall(cudaError_t error, const char* what) {
    if (error == cudaSuccess) return Status::ok();
    return internalError(std::string(what) + " failed: " + cudaGetErrorName(error) + ": " + cudaGetErrorString(error));
}

double msBetween(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

struct StagedTensor {
    std::string name;
    DataType dtype{DataType::kFLOAT};
    Dims dims;
    size_t bytes{0};
    void* pinned{nullptr};
    void* device{nullptr};
};

class DeviceInferenceStream : public InferenceStream {
public:
    DeviceInferenceStream(std::unique_ptr<ExecutionContext> context, double sleepTimeMs, bool spinWait)
        : mContext(std::move(context)), mSleepTimeMs(sleepTimeMs), mSpinWait(spinWait) {}

    ~DeviceInferenceStream() override {
        for (std::vector<StagedTensor>* group : {&mInputs, &mOutputs})
            for (StagedTensor& t : *group) {
                if (t.pinned) cudaFreeHost(t.pinned);
                if (t.device) cudaFree(t.device);
            }
        for (cudaEvent_t e : mEvents)
            if (e) cudaEventDestroy(e);
        if (mStream) cudaStreamDestroy(mStream);
    }

    Status bind(Engine& engine, const std::vector<HostInput>& inputs) {
        KILN_RETURN_IF_ERROR(cudaCall(cudaGetDevice(&mDevice), "cudaGetDevice"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaStreamCreateWithFlags(&mStream, cudaStreamNonBlocking), "cudaStreamCreate"));
        for (cudaEvent_t& e : mEvents) KILN_RETURN_IF_ERROR(cudaCall(cudaEventCreate(&e), "cudaEventCreate"));
        for (const HostInput& input : inputs) {
            if (!mContext->setInputShape(input.name.c_str(), input.dims))
                return invalidArgument("cannot run input '" + input.name + "' with shape " + describeDims(input.dims) +
                                       " (reason above)");
            KILN_RETURN_IF_ERROR(stage({input.name, input.dtype, input.dims, input.data.size()}, mInputs));
            if (!input.data.empty()) std::memcpy(mInputs.back().pinned, input.data.data(), input.data.size());
        }
        if (!mContext->allInputDimensionsSpecified()) return invalidArgument("not every input shape is set");
        for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
            const char* name = engine.getIOTensorName(i);
            if (engine.getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
            Dims dims = mContext->getTensorShape(name);
            bool known = dims.nbDims >= 0;
            for (int32_t d = 0; known && d < dims.nbDims; ++d) known = dims.d[d] >= 0;
            if (!known)
                return unsupported(std::string("output '") + name + "' has a data-dependent shape (" +
                                   dimsToString(dims) + "), which kiln exec cannot run on a GPU engine yet");
            DataType dtype = engine.getTensorDataType(name);
            KILN_RETURN_IF_ERROR(
                stage({name, dtype, dims, static_cast<size_t>(elementCount(dims)) * dataTypeSize(dtype)}, mOutputs));
        }
        return Status::ok();
    }

    /// --useCudaGraph: one inference on the inputs, which the graph then captures, so that every timed
    /// run is a graph launch. When the engine's work cannot be captured, inference goes on without.
    Status captureGraph(const Logger& log) {
        log.info("Capturing a CUDA graph of the execution context");
        mGraph = std::make_unique<CudaGraph>(*mContext);
        for (const StagedTensor& t : mInputs)
            KILN_RETURN_IF_ERROR(
                cudaCall(cudaMemcpyAsync(t.device, t.pinned, t.bytes, cudaMemcpyHostToDevice, mStream), "input copy"));
        if (!mGraph->enqueue(mStream)) return internalError("inference failed (reason above)");
        KILN_RETURN_IF_ERROR(cudaCall(cudaStreamSynchronize(mStream), "cudaStreamSynchronize"));
        switch (mGraph->getLastLaunch()) {
            case CudaGraphLaunch::kCAPTURED:
            case CudaGraphLaunch::kUPDATED:
            case CudaGraphLaunch::kREPLAYED:
                log.verbose("Captured a CUDA graph of the execution context: each inference is one graph launch");
                return Status::ok();
            case CudaGraphLaunch::kNOT_CAPTURED:
                log.warning(std::string("The engine's work cannot be captured in a CUDA graph: ") +
                            mGraph->getNotCapturedReason());
                log.warning("--useCudaGraph is ignored: each inference launches the layers one by one");
                mGraph.reset();
                return Status::ok();
        }
        return internalError("unknown CudaGraphLaunch value");
    }

    Status bindToThread() override { return cudaCall(cudaSetDevice(mDevice), "cudaSetDevice"); }

    Status runOnce(Clock::time_point epoch, bool transfer, IterationTimes& times) override {
        auto start = Clock::now();
        if (mSleepTimeMs > 0) waitMilliseconds(mSleepTimeMs, mSpinWait);
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventRecord(mEvents[0], mStream), "cudaEventRecord"));
        for (const StagedTensor& t : mInputs)
            if (transfer)
                KILN_RETURN_IF_ERROR(cudaCall(
                    cudaMemcpyAsync(t.device, t.pinned, t.bytes, cudaMemcpyHostToDevice, mStream), "input copy"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventRecord(mEvents[1], mStream), "cudaEventRecord"));
        auto enqueueStart = Clock::now();
        const bool ran = mGraph ? mGraph->enqueue(mStream) : mContext->enqueue(mStream);
        if (!ran) return internalError("inference failed (reason above)");
        auto enqueueEnd = Clock::now();
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventRecord(mEvents[2], mStream), "cudaEventRecord"));
        for (const StagedTensor& t : mOutputs)
            if (transfer)
                KILN_RETURN_IF_ERROR(cudaCall(
                    cudaMemcpyAsync(t.pinned, t.device, t.bytes, cudaMemcpyDeviceToHost, mStream), "output copy"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventRecord(mEvents[3], mStream), "cudaEventRecord"));
        // --useSpinWait polls the stream; otherwise the thread blocks on it.
        if (mSpinWait) {
            while (cudaEventQuery(mEvents[3]) == cudaErrorNotReady) {
            }
        }
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventSynchronize(mEvents[3]), "cudaEventSynchronize"));
        auto end = Clock::now();
        float h2d = 0.f, compute = 0.f, d2h = 0.f;
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventElapsedTime(&h2d, mEvents[0], mEvents[1]), "cudaEventElapsedTime"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventElapsedTime(&compute, mEvents[1], mEvents[2]), "cudaEventElapsedTime"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventElapsedTime(&d2h, mEvents[2], mEvents[3]), "cudaEventElapsedTime"));
        times.startMs = msBetween(epoch, start);
        times.endMs = msBetween(epoch, end);
        times.enqueueMs = msBetween(enqueueStart, enqueueEnd);
        times.h2dMs = h2d;
        times.computeMs = compute;
        times.d2hMs = d2h;
        mOutputsOnHost = transfer;
        return Status::ok();
    }

    Expected<std::vector<TensorView>> outputs() override {
        if (!mOutputsOnHost) {
            for (const StagedTensor& t : mOutputs)
                KILN_RETURN_IF_ERROR(cudaCall(
                    cudaMemcpyAsync(t.pinned, t.device, t.bytes, cudaMemcpyDeviceToHost, mStream), "output copy"));
            KILN_RETURN_IF_ERROR(cudaCall(cudaStreamSynchronize(mStream), "cudaStreamSynchronize"));
            mOutputsOnHost = true;
        }
        std::vector<TensorView> views;
        for (const StagedTensor& t : mOutputs) views.push_back({t.name, t.dtype, t.dims, t.pinned});
        return views;
    }

    ExecutionContext& context() override { return *mContext; }

    RunTraits traits(const InferenceOptions& options) const override {
        RunTraits traits;
        traits.deviceWord = "GPU";
        traits.asynchronous = true;
        traits.transfersData = !options.noDataTransfers;
        traits.usingCudaGraph = mGraph != nullptr;
        return traits;
    }

private:
    Status stage(StagedTensor t, std::vector<StagedTensor>& group) {
        // At least one byte, so an empty tensor still has a distinct address.
        const size_t bytes = t.bytes == 0 ? 1 : t.bytes;
        group.push_back(t);
        StagedTensor& staged = group.back();
        KILN_RETURN_IF_ERROR(cudaCall(cudaMallocHost(&staged.pinned, bytes), "cudaMallocHost"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaMalloc(&staged.device, bytes), "cudaMalloc"));
        if (!mContext->setTensorAddress(staged.name.c_str(), staged.device))
            return internalError("cannot set the address of '" + staged.name + "' (reason above)");
        return Status::ok();
    }

    std::unique_ptr<ExecutionContext> mContext;
    std::unique_ptr<CudaGraph> mGraph;  // --useCudaGraph, when the capture succeeded
    double mSleepTimeMs;
    bool mSpinWait;
    int mDevice{0};  // the GPU current when the stream was made (--device)
    cudaStream_t mStream{nullptr};
    cudaEvent_t mEvents[4]{};  // before H2D, before compute, after compute, after D2H
    std::vector<StagedTensor> mInputs;
    std::vector<StagedTensor> mOutputs;
    bool mOutputsOnHost{false};
};

}  // namespace

Expected<std::unique_ptr<InferenceStream>> createDeviceInferenceStream(Engine& engine,
                                                                       const std::vector<HostInput>& inputs,
                                                                       const InferenceOptions& options,
                                                                       const Logger& log) {
    std::unique_ptr<ExecutionContext> context = engine.createExecutionContext();
    if (!context) return internalError("cannot create an execution context (reason above)");
    auto stream = std::make_unique<DeviceInferenceStream>(std::move(context), options.sleepTimeMs, options.useSpinWait);
    KILN_RETURN_IF_ERROR(stream->bind(engine, inputs));
    if (options.useCudaGraph) KILN_RETURN_IF_ERROR(stream->captureGraph(log));
    return std::unique_ptr<InferenceStream>(std::move(stream));
}

}  // namespace kiln::cli
