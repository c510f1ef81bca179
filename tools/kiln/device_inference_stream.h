#pragma once
// The stream of a CUDA engine: every I/O tensor has a device buffer and a pinned host staging buffer
// (so the copies are true DMA); a run is H2D copies -> enqueue -> D2H copies on a stream of its own,
// with CUDA events between the parts giving the H2D, GPU compute and D2H times. With --useCudaGraph
// the enqueue is a launch of the context's work captured in a CUDA graph (kiln/cuda_graph.h),
// captured while the stream is set up, as trtexec does.

#include "inference_stream.h"

namespace kiln::cli {

/// Unsupported when this kiln was built without the CUDA toolkit.
Expected<std::unique_ptr<InferenceStream>> createDeviceInferenceStream(Engine& engine,
                                                                       const std::vector<HostInput>& inputs,
                                                                       const InferenceOptions& options,
                                                                       const Logger& log);

}  // namespace kiln::cli
