#pragma once
// Runs of a graph in which some shape depends on values computed during the run, and everything
// downstream of them. Two kinds of node make such shapes:
//  - ops whose shape is a function of the values (NonZero, Compress, Unique, NonMaxSuppression;
//    OpSchema::dataDependentShape): their kernel reports the shapes once the inputs are computed
//    (Kernel::computeOutputShapes);
//  - ops whose shape follows from a small input that is computed at run time instead of being a
//    constant (Reshape's shape, Resize's scales or sizes, TopK's k, Expand, Tile, Range, ...): the
//    runtime reads those inputs back to the host and infers the node again, knowing them.
// No static memory plan exists for such a graph, so each run walks the nodes in order: it infers
// the node's outputs at the concrete shapes of this run, learns the unknown shapes as above,
// allocates the outputs, runs the kernel, and frees each intermediate after its last reader.
// Graph outputs are then copied to the caller's buffers, or to the buffers an IOutputAllocator
// gives once their size is known.

#include <vector>

#include "common/status.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/engine_impl.h"

namespace kiln {

/// The first node that writes a value whose shape is still unknown after inference at concrete input
/// shapes, or nullptr: when there is one, the graph must run with runWithDataDependentShapes().
const Node* firstDataDependentNode(const Graph& graph, const std::vector<ValueInfo>& infos);
/// Whether firstDataDependentNode() finds one.
bool hasDataDependentShapes(const Graph& graph, const std::vector<ValueInfo>& infos);

/// One run of a context whose `preparedInfos` hold the concrete input shapes and folded values.
/// On success `ctx.infos` holds the shapes of this run.
Status runWithDataDependentShapes(ContextImpl& ctx, Stream stream);

}  // namespace kiln
