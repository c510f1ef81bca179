#include <cuda_runtime.h>

#include <cstdio>

#include "gpu_devices.h"

namespace kiln::cli {

GpuDevices findGpuDevices() {
    GpuDevices devices;
    cudaError_t error = cudaGetDeviceCount(&devices.count);
    if (error != cudaSuccess) {
        cudaGetLastError();  // not sticky: leave nothing for later calls to report
        devices.count = 0;
        devices.whyNone = std::string("CUDA reports ") + cudaGetErrorName(error) + ": " + cudaGetErrorString(error);
    } else if (devices.count == 0) {
        devices.whyNone = "the CUDA driver reports no device";
    }
    return devices;
}

Expected<std::string> useGpuDevice(int32_t index) {
    cudaDeviceProp props{};
    cudaError_t error = cudaSetDevice(index);
    if (error == cudaSuccess) error = cudaGetDeviceProperties(&props, index);
    if (error != cudaSuccess) {
        cudaGetLastError();
        return internalError("cannot use GPU " + std::to_string(index) + ": " + cudaGetErrorName(error) + ": " +
                             cudaGetErrorString(error));
    }
    char memory[32];
    std::snprintf(memory, sizeof memory, "%.1f GiB", static_cast<double>(props.totalGlobalMem) / (1024.0 * 1024 * 1024));
    return "GPU " + std::to_string(index) + " '" + props.name + "', compute capability " + std::to_string(props.major) +
           "." + std::to_string(props.minor) + ", " + memory;
}

}  // namespace kiln::cli
