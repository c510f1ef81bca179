#pragma once
// The stream of a CPU engine: buffers in host memory that the engine reads and writes in place, so
// there are no transfers, and enqueue runs the whole inference before it returns.

#include "inference_stream.h"

namespace kiln::cli {

Expected<std::unique_ptr<InferenceStream>> createHostInferenceStream(Engine& engine,
                                                                     const std::vector<HostInput>& inputs,
                                                                     const InferenceOptions& options);

}  // namespace kiln::cli
