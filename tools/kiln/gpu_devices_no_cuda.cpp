// The GPU devices of a kiln built without the CUDA toolkit (KILN_WITH_CUDA=OFF or no nvcc): none.

#include "gpu_devices.h"

namespace kiln::cli {

GpuDevices findGpuDevices() { return {0, "this kiln was built without CUDA"}; }

Expected<std::string> useGpuDevice(int32_t index) {
    return unsupported("cannot use GPU " + std::to_string(index) + ": this kiln was built without CUDA");
}

}  // namespace kiln::cli
