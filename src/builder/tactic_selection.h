#pragma once
// Kernel auto-tuning (SPEC §2.3 "tactic selection"): for each layer whose kernel can choose among
// implementations (cuBLASLt's algorithms for a GEMM, ...), every candidate is run at the first
// profile's opt shapes on the device and timed (layer_timing.h: warm-up, then the median of
// BuilderConfig::getAvgTimingIterations() runs, device events); the fastest one's state is stored in the
// node (kTacticAttribute), so the engine carries the choice. A timing cache answers problems timed
// before (same target, op and problem) without running anything.
// --builderOptimizationLevel sets how wide the search is: 0 times nothing (each kernel's default, the
// library heuristic's first choice), 1..5 time the heuristic's first 2, 4, 8 (default), 16, 32.

#include <vector>

#include "builder/build_progress.h"
#include "common/logging.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "kiln/builder.h"

namespace kiln {

class Backend;

/// Candidates timed per layer at an optimization level (0: none).
size_t tacticCandidatesAt(int32_t optimizationLevel);

/// Times and chooses the tactics of `graph`'s layers at the shapes in `infos` (indexed by value id).
/// Backends that cannot time device work (no RunTimer: the CPU, whose kernels have no choice) and
/// level 0 do nothing.
Status selectTactics(Graph& graph, const std::vector<ValueInfo>& infos, Backend& backend, const BuilderConfig& config,
                     const Logger& log, const ProgressPhase& parent);

}  // namespace kiln
