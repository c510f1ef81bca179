#pragma once
// `kiln exec`'s inference step: shapes, input data, warm-up, the timed loop, the performance
// summary and the output dumps.

#include "common/logging.h"
#include "common/status.h"
#include "exec_options.h"
#include "kiln/runtime.h"

namespace kiln::cli {

/// Runs `engine` as the inference and reporting options say: CPU engines on the host buffers, CUDA
/// engines through device buffers (inference_io.h).
Status runInference(Engine& engine, const ExecOptions& options, const Logger& log);

}  // namespace kiln::cli
