// CUDA engines in `kiln exec`: every I/O tensor gets a device buffer and a pinned host staging buffer
// (so the copies are true DMA and overlap nothing else on the host); a run is H2D copies -> enqueue ->
// D2H copies on one stream, with CUDA events around the enqueue measuring the GPU compute time.

#include <cuda_runtime.h>

#include <cstring>

#include "inference_io.h"

namespace kiln::cli {

namespace {

Status cudaCall(cudaError_t error, const char* what) {
    if (error == cudaSuccess) return Status::ok();
    return internalError(std::string(what) + " failed: " + cudaGetErrorName(error) + ": " + cudaGetErrorString(error));
}

struct StagedTensor {
    HostBinding host;
    void* pinned{nullptr};
    void* device{nullptr};
};

class CudaInferenceIo : public InferenceIo {
public:
    ~CudaInferenceIo() override {
        for (std::vector<StagedTensor>* group : {&mInputs, &mOutputs})
            for (StagedTensor& t : *group) {
                if (t.pinned) cudaFreeHost(t.pinned);
                if (t.device) cudaFree(t.device);
            }
        if (mStart) cudaEventDestroy(mStart);
        if (mStop) cudaEventDestroy(mStop);
        if (mStream) cudaStreamDestroy(mStream);
    }

    Status create() {
        KILN_RETURN_IF_ERROR(cudaCall(cudaStreamCreateWithFlags(&mStream, cudaStreamNonBlocking), "cudaStreamCreate"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventCreate(&mStart), "cudaEventCreate"));
        return cudaCall(cudaEventCreate(&mStop), "cudaEventCreate");
    }

    Status bind(ExecutionContext& context, const std::vector<HostBinding>& inputs,
                const std::vector<HostBinding>& outputs) override {
        KILN_RETURN_IF_ERROR(stage(context, inputs, mInputs));
        KILN_RETURN_IF_ERROR(stage(context, outputs, mOutputs));
        for (StagedTensor& t : mInputs) std::memcpy(t.pinned, t.host.host, t.host.bytes);
        return Status::ok();
    }

    Expected<double> runOnce(ExecutionContext& context) override {
        for (const StagedTensor& t : mInputs)
            KILN_RETURN_IF_ERROR(cudaCall(
                cudaMemcpyAsync(t.device, t.pinned, t.host.bytes, cudaMemcpyHostToDevice, mStream), "input copy"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventRecord(mStart, mStream), "cudaEventRecord"));
        if (!context.enqueue(mStream)) return internalError("inference failed (reason above)");
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventRecord(mStop, mStream), "cudaEventRecord"));
        for (const StagedTensor& t : mOutputs)
            KILN_RETURN_IF_ERROR(cudaCall(
                cudaMemcpyAsync(t.pinned, t.device, t.host.bytes, cudaMemcpyDeviceToHost, mStream), "output copy"));
        KILN_RETURN_IF_ERROR(cudaCall(cudaStreamSynchronize(mStream), "cudaStreamSynchronize"));
        float computeMs = 0.f;
        KILN_RETURN_IF_ERROR(cudaCall(cudaEventElapsedTime(&computeMs, mStart, mStop), "cudaEventElapsedTime"));
        return static_cast<double>(computeMs);
    }

    Status fetchOutputs() override {
        for (const StagedTensor& t : mOutputs) std::memcpy(t.host.host, t.pinned, t.host.bytes);
        return Status::ok();
    }

private:
    Status stage(ExecutionContext& context, const std::vector<HostBinding>& bindings, std::vector<StagedTensor>& out) {
        for (const HostBinding& b : bindings) {
            StagedTensor t;
            t.host = b;
            // At least one byte, so an empty tensor still has a distinct address.
            const size_t bytes = b.bytes == 0 ? 1 : b.bytes;
            KILN_RETURN_IF_ERROR(cudaCall(cudaMallocHost(&t.pinned, bytes), "cudaMallocHost"));
            out.push_back(t);
            KILN_RETURN_IF_ERROR(cudaCall(cudaMalloc(&out.back().device, bytes), "cudaMalloc"));
            if (!context.setTensorAddress(b.name.c_str(), out.back().device))
                return internalError("cannot set the address of '" + b.name + "' (reason above)");
        }
        return Status::ok();
    }

    cudaStream_t mStream{nullptr};
    cudaEvent_t mStart{nullptr};
    cudaEvent_t mStop{nullptr};
    std::vector<StagedTensor> mInputs;
    std::vector<StagedTensor> mOutputs;
};

}  // namespace

Expected<std::unique_ptr<InferenceIo>> createCudaInferenceIo() {
    auto io = std::make_unique<CudaInferenceIo>();
    KILN_RETURN_IF_ERROR(io->create());
    return std::unique_ptr<InferenceIo>(std::move(io));
}

}  // namespace kiln::cli
