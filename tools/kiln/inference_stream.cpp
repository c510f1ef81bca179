#include "inference_stream.h"

#include <string>
#include <thread>

#include "device_inference_stream.h"
#include "host_inference_stream.h"

namespace kiln::cli {

Expected<std::unique_ptr<InferenceStream>> createInferenceStream(Engine& engine, const std::vector<HostInput>& inputs,
                                                                 const InferenceOptions& options, const Logger& log) {
    std::string backend = engine.getBackendName();
    if (backend == "cpu") return createHostInferenceStream(engine, inputs, options);
    if (backend == "cuda") return createDeviceInferenceStream(engine, inputs, options, log);
    return unsupported("kiln exec cannot run engines of backend '" + backend + "'");
}

void waitMilliseconds(double ms, bool spin) {
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
    if (!spin) {
        std::this_thread::sleep_until(until);
        return;
    }
    while (Clock::now() < until) {
    }
}

}  // namespace kiln::cli
