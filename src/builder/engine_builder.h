#pragma once
// Network -> EnginePlan: validation, profiles, shape inference, the optimization passes, the
// backend support check (every unsupported layer in one error) and the memory report.

#include "builder/build_progress.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/plan.h"
#include "ir/graph.h"
#include "kiln/builder.h"

namespace kiln {

/// Reports kPlanSteps steps to `build` (the caller's top-level build phase), and a nested phase per
/// profile while planning memory.
Expected<EnginePlan> buildEnginePlan(const Graph& network, const BuilderConfig& config, const Logger& log,
                                     ProgressPhase& build);

/// Steps buildEnginePlan() completes in its caller's phase: network checks, graph optimization,
/// backend support, memory planning.
inline constexpr int32_t kPlanSteps = 4;

}  // namespace kiln
