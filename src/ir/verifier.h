#pragma once
// Structural checks of a graph: the invariants every pass must keep. The builder runs it after
// import and (with BuilderFlag::kDEBUG) after every pass.

#include "common/status.h"
#include "ir/graph.h"

namespace kiln {

/// Checks: nodes in topological order; every input is a graph input, a constant or the output of
/// an earlier node; each value has at most one producer and its producer link is right; value
/// names are unique; graph outputs are defined; every op has a schema; the subgraphs of If / Loop /
/// Scan fit their node's inputs (ir/control_flow.h) and pass these checks too. Returns the first problem.
Status verifyGraph(const Graph& graph);

}  // namespace kiln
