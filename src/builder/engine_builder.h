#pragma once
// Network -> EnginePlan: validation, profiles, shape inference, the optimization passes, the
// backend support check (every unsupported layer in one error) and the memory report.

#include "common/logging.h"
#include "common/status.h"
#include "engine/plan.h"
#include "ir/graph.h"
#include "kiln/builder.h"

namespace kiln {

Expected<EnginePlan> buildEnginePlan(const Graph& network, const BuilderConfig& config, const Logger& log);

}  // namespace kiln
