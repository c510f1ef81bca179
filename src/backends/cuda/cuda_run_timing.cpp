// CudaBackend::timeRuns: device time of each run between two CUDA events on the stream, so host work
// in the launch (argument setup, library calls) counts only where it delays the device.

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

namespace {

/// Two events, destroyed on scope exit.
struct EventPair {
    cudaEvent_t start{nullptr};
    cudaEvent_t end{nullptr};
    ~EventPair() {
        if (start) cudaEventDestroy(start);
        if (end) cudaEventDestroy(end);
    }
};

}  // namespace

Expected<double> CudaBackend::timeRuns(Stream stream, int warmup, int repeats, const std::function<Status()>& launch) {
    if (repeats < 1) return invalidArgument("timing needs at least one timed run");
    auto cudaStream = static_cast<cudaStream_t>(stream);
    EventPair events;
    KILN_CUDA_RETURN_IF_ERROR(cudaEventCreate(&events.start));
    KILN_CUDA_RETURN_IF_ERROR(cudaEventCreate(&events.end));
    for (int i = 0; i < warmup; ++i) KILN_RETURN_IF_ERROR(launch());
    std::vector<double> ms;
    for (int i = 0; i < repeats; ++i) {
        KILN_CUDA_RETURN_IF_ERROR(cudaEventRecord(events.start, cudaStream));
        KILN_RETURN_IF_ERROR(launch());
        KILN_CUDA_RETURN_IF_ERROR(cudaEventRecord(events.end, cudaStream));
        KILN_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(events.end));
        float elapsed = 0.f;
        KILN_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&elapsed, events.start, events.end));
        ms.push_back(elapsed);
    }
    std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
    return ms[ms.size() / 2];
}

}  // namespace kiln::cuda
