// Stream capture into CUDA graphs: the backend side of kiln::CudaGraph (runtime/cuda_graph.cpp).
// Captures are thread-local (cudaStreamCaptureModeThreadLocal): a call of the capturing thread that
// cannot be recorded (cudaMalloc, a synchronization) fails at once and fails the capture, which is how
// a kernel that breaks the rules is caught; other threads, running other contexts, are not restricted,
// as they would be in the global mode.

#include <cuda_runtime.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

namespace {

/// An instantiated CUDA graph.
class CudaStreamGraph : public StreamGraph {
public:
    explicit CudaStreamGraph(cudaGraphExec_t exec) : mExec(exec) {}
    ~CudaStreamGraph() override { cudaGraphExecDestroy(mExec); }
    CudaStreamGraph(const CudaStreamGraph&) = delete;
    CudaStreamGraph& operator=(const CudaStreamGraph&) = delete;

    Status launch(Stream stream) override {
        KILN_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(mExec, static_cast<cudaStream_t>(stream)));
        return Status::ok();
    }
    cudaGraphExec_t exec() const { return mExec; }

private:
    cudaGraphExec_t mExec;
};

/// The graph a capture produced, destroyed once instantiated (or on failure).
struct CapturedGraph {
    cudaGraph_t graph{nullptr};
    ~CapturedGraph() {
        if (graph) cudaGraphDestroy(graph);
    }
};

/// A failed call leaves its error as the runtime's "last error", which the next kernel launch's check
/// (launchStatus) would report as its own: clear it once the failure is handled.
Status failed(cudaError_t error, const char* call) {
    cudaGetLastError();
    return cudaStatus(error, call);
}

}  // namespace

Status CudaBackend::beginCapture(Stream stream) {
    auto s = static_cast<cudaStream_t>(stream);
    // The legacy default stream synchronizes with every other stream, so CUDA refuses to capture it.
    if (s == nullptr || s == cudaStreamLegacy)
        return unsupported(
            "the legacy default stream (a null stream) cannot be captured: run on a stream made with cudaStreamCreate");
    if (cudaError_t error = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal); error != cudaSuccess)
        return failed(error, "cudaStreamBeginCapture");
    return Status::ok();
}

Expected<bool> CudaBackend::endCapture(Stream stream, std::unique_ptr<StreamGraph>& graph) {
    CapturedGraph captured;
    if (cudaError_t error = cudaStreamEndCapture(static_cast<cudaStream_t>(stream), &captured.graph);
        error != cudaSuccess) {
        graph.reset();
        return failed(error, "cudaStreamEndCapture");
    }
    // Same layers with other parameters (addresses, grid sizes) update the executable graph in place;
    // anything else (another kernel, another node count) needs a new one.
    if (auto* previous = dynamic_cast<CudaStreamGraph*>(graph.get())) {
        cudaGraphExecUpdateResultInfo info{};
        if (cudaGraphExecUpdate(previous->exec(), captured.graph, &info) == cudaSuccess) return true;
        cudaGetLastError();
    }
    graph.reset();
    cudaGraphExec_t exec = nullptr;
    if (cudaError_t error = cudaGraphInstantiate(&exec, captured.graph, 0); error != cudaSuccess)
        return failed(error, "cudaGraphInstantiate");
    graph = std::make_unique<CudaStreamGraph>(exec);
    return false;
}

void CudaBackend::abortCapture(Stream stream) {
    auto s = static_cast<cudaStream_t>(stream);
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
        CapturedGraph dropped;
        cudaStreamEndCapture(s, &dropped.graph);
    }
    cudaGetLastError();
}

bool CudaBackend::isCapturing(Stream stream) const {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    cudaError_t error = cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &status);
    if (error == cudaSuccess) return status != cudaStreamCaptureStatusNone;
    cudaGetLastError();
    // The legacy stream while another thread captures in the global mode: part of that capture.
    return error == cudaErrorStreamCaptureImplicit;
}

}  // namespace kiln::cuda
