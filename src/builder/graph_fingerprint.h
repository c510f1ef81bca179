#pragma once
// A short, stable name for a graph's structure at concrete shapes, for timing-cache keys of decisions
// that depend on the whole graph (layout_selection.h): the same model built again gets the same name,
// and any change that can change the decision (an op, an attribute, a type, a shape, the wiring) gets
// another. Weight values are left out (a fine-tuned copy of a model times the same), as are the
// attributes the builder itself writes afterwards (tactics, generated code).

#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"

namespace kiln {

/// "<N> layers <16 hex digits>": a 64-bit FNV-1a hash of the graph's canonical text (each node's domain,
/// op, attributes and the types and shapes of what it reads and writes, values numbered in order of
/// appearance rather than named; subgraphs recursively), with the shapes of `infos` (indexed by value id).
std::string structureFingerprint(const Graph& graph, const std::vector<ValueInfo>& infos);

}  // namespace kiln
