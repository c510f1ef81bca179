#pragma once
// Shape elements that are static while the shape is not. A model exported with a dynamic batch often
// reads a static extent off a tensor's shape (`q.size(-1)` for attention's scale: Shape -> Slice or
// Gather -> Cast -> Sqrt ...). Shape inference knows a value only when every element is known, so such
// a chain stays a run-time computation, and under --fp16 the float values computed from it keep FP32
// (integer-derived values never round), pulling the tensors they scale into FP32 with reformats on both
// sides. Here a Gather or Slice that picks only static extents out of a Shape becomes a constant, so
// constant folding can finish the chain at build time.

#include <cstddef>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "passes/pass.h"

namespace kiln {

/// Replaces each Gather / Slice over a Shape whose picked extents are all static (per `infos`, inferred
/// shapes by value id) by constants; returns how many. Needs `ctx.evaluator` (which runs the op on the
/// positions of the extents, so the op's own index rules decide which are picked).
Expected<size_t> foldStaticShapeElements(Graph& graph, const std::vector<ValueInfo>& infos, PassContext& ctx);

}  // namespace kiln
