#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdio>

#include "backends/cuda/cuda_device.h"
#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

namespace {

// Compiled like every kernel of this library: whether the device can run it says whether the build's
// architectures (KILN_CUDA_ARCHITECTURES) cover this device, as SASS or as PTX it can compile.
__global__ void architectureProbeKernel() {}

std::string versionString(int version) {  // 13000 -> "13.0"
    return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

}  // namespace

std::string DeviceInfo::targetDescription() const {
    size_t major = cublasLtVersion / 10000;
    size_t minor = (cublasLtVersion / 100) % 100;
    return "sm_" + std::to_string(computeMajor) + std::to_string(computeMinor) + " / CUDA " +
           versionString(runtimeVersion) + " / cuBLAS " + std::to_string(major) + "." + std::to_string(minor) +
           " / cuDNN " + std::to_string(cudnnVersion / 10000) + "." + std::to_string((cudnnVersion / 100) % 100);
}

std::string DeviceInfo::describe() const {
    char memory[32];
    std::snprintf(memory, sizeof memory, "%.1f GiB", static_cast<double>(totalMemoryBytes) / (1024.0 * 1024 * 1024));
    return "device " + std::to_string(ordinal) + " '" + name + "' sm_" + std::to_string(computeMajor) +
           std::to_string(computeMinor) + ", " + std::to_string(multiProcessorCount) + " SMs, " + memory +
           ", driver CUDA " + versionString(driverVersion);
}

Expected<DeviceInfo> probeDevice() {
    int count = 0;
    cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) return unsupported(std::string("no CUDA device: ") + cudaGetErrorString(error));
    if (count == 0) return unsupported("no CUDA device: the driver reports 0 devices");

    DeviceInfo info;
    KILN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&info.ordinal));
    cudaDeviceProp props{};
    KILN_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&props, info.ordinal));
    info.name = props.name;
    info.computeMajor = props.major;
    info.computeMinor = props.minor;
    info.multiProcessorCount = props.multiProcessorCount;
    info.totalMemoryBytes = props.totalGlobalMem;
    KILN_CUDA_RETURN_IF_ERROR(cudaRuntimeGetVersion(&info.runtimeVersion));
    KILN_CUDA_RETURN_IF_ERROR(cudaDriverGetVersion(&info.driverVersion));
    info.cublasLtVersion = cublasLtGetVersion();
    info.cudnnVersion = cudnnGetVersion();

    // Ampere is the oldest generation the kernels are written for (bf16, async copies, 164 KiB shared memory).
    if (info.computeMajor < 8)
        return unsupported("CUDA " + info.describe() + " is older than sm_80, the oldest the CUDA backend supports");
    cudaFuncAttributes attributes{};
    error = cudaFuncGetAttributes(&attributes, architectureProbeKernel);
    if (error != cudaSuccess) {
        cudaGetLastError();  // clear the error so later calls do not report it
        return unsupported(std::string("the CUDA backend was built with KILN_CUDA_ARCHITECTURES=") +
                           KILN_CUDA_ARCHITECTURES_BUILT + " and has no code for CUDA " + info.describe() + ": " +
                           cudaGetErrorString(error));
    }
    return info;
}

}  // namespace kiln::cuda
