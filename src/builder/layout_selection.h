#pragma once
// NCHW or channels-last, chosen by timing (SPEC §2.3: layout choices are timed at the profile's opt
// shapes, reformat costs counted, and the fastest wins). Under --fp16 / --bf16 the channels-last pass
// (passes/channels_last_layout.h) puts cuDNN's tensor-core convolutions in NHWC regions with Transpose
// reformat layers at their boundaries. Whether that pays depends on the model and the batch: at batch 1
// the reformats and the NHWC kernels can cost more than NCHW saves, at large batches NHWC wins.
//
// With tactic timing on (a RunTimer backend, --builderOptimizationLevel >= 1) the builder keeps the NCHW
// graph and a channels-last copy, prepares both (support check, generated code, tactics of their own),
// times every layer of each alone with its chosen tactic at profile 0's opt shapes (layer_timing.h), and
// keeps the graph whose sum of layer medians is smaller. Layers that cannot be timed alone are left out
// of both sums; with nothing to compare, the heuristic (channels-last) stays. The choice is a timing-cache
// entry keyed by the target and the NCHW graph's structure (graph_fingerprint.h), so a rebuild with a warm
// cache times nothing and makes the same choice. Level 0 keeps the heuristic without timing.
//
// The granularity is the whole engine: one decision per graph, not per NHWC region (the refinement
// left: a region's choice changes its neighbours' reformats, so regions are not independent).

#include <functional>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "builder/build_progress.h"
#include "common/logging.h"
#include "engine/plan.h"
#include "ir/graph.h"
#include "kiln/builder.h"

namespace kiln {

/// Makes a graph's layers ready to run and to be timed: the builder's support check, generated kernel
/// code and tactic selection.
using PrepareLayers = std::function<Status(Graph& graph)>;

/// Timing-cache tactic words of a layout decision.
inline constexpr int64_t kLayoutNchw = 0;
inline constexpr int64_t kLayoutChannelsLast = 1;

/// Chooses between `graph` (NCHW, after precision assignment, no tactics yet) and its channels-last form;
/// on return `graph` is the one kept, prepared by `prepare`. The caller asks only where the channels-last
/// pass applies (FP16 / BF16 convolutions on a backend with NHWC kernels).
Status selectLayout(std::unique_ptr<Graph>& graph, const std::vector<ProfileShapes>& profiles, Backend& backend,
                    const BuilderConfig& config, const Logger& log, const ProgressPhase& parent,
                    const PrepareLayers& prepare);

}  // namespace kiln
