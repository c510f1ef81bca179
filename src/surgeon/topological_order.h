#pragma once
// A topological order of a node list that stays as close as possible to the list's own order, so
// sorting a graph that is already in order changes nothing, and an edit that only needs one node
// moved moves only what depends on it.

#include <string>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace kiln::surgeon {

/// One node as the sort sees it.
struct OrderedNode {
    std::string name;
    std::vector<std::string> reads;   // non-empty tensor names, subgraph reads included
    std::vector<std::string> writes;  // non-empty tensor names
};

/// Positions into `nodes` in an order where each node follows the producers of what it reads;
/// among the nodes ready at a step, the earliest in `nodes` goes first. `external` holds what no
/// node produces (initializers, graph inputs). Errors: a tensor two nodes produce, a tensor read
/// that nothing defines, a cycle (naming its nodes).
Expected<std::vector<size_t>> stableTopologicalOrder(const std::vector<OrderedNode>& nodes,
                                                     const std::unordered_set<std::string>& external);

}  // namespace kiln::surgeon
