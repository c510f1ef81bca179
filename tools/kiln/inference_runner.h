#pragma once
// `kiln exec`'s inference step: shapes, input data, the streams (--infStreams, --threads),
// warm-up, the timed loop, the performance summary, the per-layer profile and the output dumps.

#include "common/logging.h"
#include "common/status.h"
#include "exec_options.h"
#include "inference_stream.h"
#include "kiln/runtime.h"

namespace kiln::cli {

/// Each input's run-time shape (--shapes, else profile 0's opt shapes) and data (--loadInputs, else
/// random data from a fixed seed: the same for every stream, run and engine of the same inputs).
Expected<std::vector<HostInput>> prepareInputs(Engine& engine, const ExecOptions& options, const Logger& log);

/// Runs `engine` as the inference and reporting options say. The engine's backend picks the kind
/// of stream (inference_stream.h); a backend without one is refused with a message saying so.
Status runInference(Engine& engine, const ExecOptions& options, const Logger& log);

}  // namespace kiln::cli
