// The device stream of a kiln built without the CUDA toolkit (KILN_WITH_CUDA=OFF or no nvcc).

#include "device_inference_stream.h"

namespace kiln::cli {

Expected<std::unique_ptr<InferenceStream>> createDeviceInferenceStream(Engine&, const std::vector<HostInput>&,
                                                                       const InferenceOptions&, const Logger&) {
    return unsupported(
        "this kiln was built without CUDA, so it cannot run CUDA engines: rebuild with the CUDA toolkit "
        "(-DKILN_WITH_CUDA=ON), or build the engine with --backend=cpu");
}

}  // namespace kiln::cli
