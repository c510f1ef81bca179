#pragma once
// `kiln exec`'s inference step: shapes, input data, the streams (--infStreams, --threads),
// warm-up, the timed loop, the performance summary, the per-layer profile and the output dumps.

#include "common/logging.h"
#include "common/status.h"
#include "exec_options.h"
#include "kiln/runtime.h"

namespace kiln::cli {

/// Runs `engine` as the inference and reporting options say. The engine's backend picks the kind
/// of stream (inference_stream.h); a backend without one is refused with a message saying so.
Status runInference(Engine& engine, const ExecOptions& options, const Logger& log);

}  // namespace kiln::cli
