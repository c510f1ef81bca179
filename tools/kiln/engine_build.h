#pragma once
// `kiln exec`'s build step: ONNX file -> network -> profile -> serialized engine (saved if asked).

#include <functional>
#include <memory>

#include "cli_logger.h"
#include "common/logging.h"
#include "common/status.h"
#include "exec_options.h"
#include "kiln/builder.h"

namespace kiln::cli {

/// Changes a parsed network before it is built (`kiln compare` marks its tensors as outputs).
using NetworkEdit = std::function<Status(NetworkDefinition&)>;

/// Parses options.model.onnxFile, applies `edit` (when given), builds it for the configured target and
/// writes --saveEngine. Parser errors are all logged before the Status is returned.
Expected<std::unique_ptr<HostMemory>> buildEngine(const ExecOptions& options, Builder& builder, CliLogger& logger,
                                                  const NetworkEdit& edit = nullptr);

}  // namespace kiln::cli
