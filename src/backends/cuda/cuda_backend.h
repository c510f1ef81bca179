#pragma once
// The CUDA backend: device memory through cudaMalloc, copies and kernels on the caller's stream
// (kiln::Stream is a cudaStream_t), cuBLASLt for matrix products, cuDNN for convolutions. Built as libkiln_backend_cuda.so and
// loaded by the core through the exported kilnCreateBackend (backends/backend_registry.cpp).

#include <cublasLt.h>
#include <cudnn.h>

#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/tactic_choice.h"
#include "backends/cuda/cuda_device.h"

namespace kiln::cuda {

class CudaBackend : public Backend, public RunTimer {
public:
    /// Probes the device and creates the library handles; the error says what was found when the
    /// device cannot be used.
    static Expected<std::unique_ptr<CudaBackend>> create();
    ~CudaBackend() override;

    std::string name() const override { return "cuda"; }
    std::string targetDescription() const override { return mDevice.targetDescription(); }
    bool supports(const Node& node, std::string* reason) const override;
    Expected<std::unique_ptr<Kernel>> createKernel(const Node& node) const override;

    void* allocate(size_t bytes) override;
    void deallocate(void* ptr) override;
    Status copyToDevice(void* dst, const void* src, size_t bytes, Stream stream) override;
    Status copyToHost(void* dst, const void* src, size_t bytes, Stream stream) override;
    Status copyOnDevice(void* dst, const void* src, size_t bytes, Stream stream) override;
    Status synchronize(Stream stream) override;
    bool isHostMemory() const override { return false; }
    size_t alignment() const override { return 256; }
    /// RunTimer: CUDA events around each timed run (cuda_run_timing.cpp).
    Expected<double> timeRuns(Stream stream, int warmup, int repeats, const std::function<Status()>& launch) override;

    // Stream capture into CUDA graphs (cuda_stream_graph.cpp).
    Status beginCapture(Stream stream) override;
    Expected<bool> endCapture(Stream stream, std::unique_ptr<StreamGraph>& graph) override;
    void abortCapture(Stream stream) override;
    bool isCapturing(Stream stream) const override;

    /// The device found at creation (its name is informational: not part of the target).
    const DeviceInfo& device() const { return mDevice; }

private:
    CudaBackend(DeviceInfo device, cublasLtHandle_t cublasLt, cudnnHandle_t cudnn)
        : mDevice(std::move(device)), mCublasLt(cublasLt), mCudnn(cudnn) {}

    DeviceInfo mDevice;
    cublasLtHandle_t mCublasLt;
    cudnnHandle_t mCudnn;
};

}  // namespace kiln::cuda
