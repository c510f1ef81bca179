#pragma once
// The GPU this backend runs on: what was found at load, and the target string engines are compared by.

#include <cstddef>
#include <string>

#include "common/status.h"

namespace kiln::cuda {

struct DeviceInfo {
    int ordinal{0};
    std::string name;  // "NVIDIA H100 80GB HBM3": informational, not part of the target
    int computeMajor{0};
    int computeMinor{0};
    int multiProcessorCount{0};
    size_t totalMemoryBytes{0};
    int runtimeVersion{0};      // cudaRuntimeGetVersion: 13000 for 13.0
    int driverVersion{0};       // cudaDriverGetVersion: the newest CUDA version the driver supports
    size_t cublasLtVersion{0};  // cublasLtGetVersion: 130100 for 13.1.0
    size_t cudnnVersion{0};     // cudnnGetVersion: 91900 for 9.19.0

    /// "sm_90 / CUDA 13.0 / cuBLAS 13.1 / cuDNN 9.19": what an engine built here needs to run. Two cards of one
    /// generation share it; patch releases of the libraries are compatible, so they are left out.
    std::string targetDescription() const;
    /// "device 0 'NVIDIA H100 80GB HBM3' sm_90, 132 SMs, 79.1 GiB, driver CUDA 13.0": for logs.
    std::string describe() const;
};

/// The current device (device 0 unless the application chose another), checked for what this build
/// needs: a driver, a device of compute capability 8.0 or newer, and kernel code this library was
/// compiled for (KILN_CUDA_ARCHITECTURES). The error says what was found.
Expected<DeviceInfo> probeDevice();

}  // namespace kiln::cuda
