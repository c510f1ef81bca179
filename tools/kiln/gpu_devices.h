#pragma once
// The GPUs `kiln exec --device` chooses from. CUDA's current device is per host thread and the CUDA
// backend opens the device current when it is first used, so the choice is made before anything
// touches CUDA and again in every thread that runs a GPU engine.

#include <cstdint>
#include <string>

#include "common/status.h"

namespace kiln::cli {

struct GpuDevices {
    int32_t count{0};
    std::string whyNone;  // when count is 0: no driver or device, or a kiln built without CUDA
};

/// The CUDA devices this process sees (after CUDA_VISIBLE_DEVICES).
GpuDevices findGpuDevices();

/// Makes GPU `index` the calling thread's current CUDA device; returns what it is, for the log:
/// "GPU 0 'NVIDIA H200', compute capability 9.0, 139.8 GiB".
Expected<std::string> useGpuDevice(int32_t index);

}  // namespace kiln::cli
