#pragma once
// Where every value of a graph lives during one run at concrete shapes: engine constants,
// values folded while preparing (shape computations), the caller's I/O buffers, or the
// activation arena (offsets by liveness, memory_planner.h). Shared by the builder (to report
// the memory a profile needs) and the execution context (to run).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/memory_planner.h"

namespace kiln {

enum class Residence : uint8_t {
    kUnused,    // nothing reads or writes it
    kConstant,  // engine-owned weights
    kFolded,    // computed on the host while preparing; its node does not run
    kInput,     // the caller's input buffer
    kOutput,    // the caller's output buffer, written by its producer
    kArena,     // the activation arena
};

struct ExecutionLayout {
    std::vector<Residence> residence;  // by value id
    std::vector<size_t> arenaOffset;   // by value id, for kArena
    std::vector<int64_t> inputView;    // by value id, for kInput: the graph input whose buffer it is (itself,
                                       // or the input a chain of relabels views)
    std::vector<size_t> runNodes;      // indices into graph.nodes() that execute at run time
    std::vector<size_t> elidedNodes;   // Concats whose inputs are written in place (concat_elision.h)
    size_t arenaBytes{0};              // activations, excluding kernel workspace
    size_t lowerBoundBytes{0};         // the largest sum of simultaneously live activations
    size_t sumOfActivationBytes{0};    // every activation with its own buffer
};

/// Whether a backend's kernel for `node` may write its output over input `input` (same size; the
/// kernel reads each element before writing it). Default: never.
using InPlacePolicy = std::function<bool(const Node& node, size_t input)>;

/// Lays out a run. `infos` are concrete (every shape known); values with a known `value` that no
/// engine constant holds are folded. Fails when some shape is still unknown (data-dependent).
/// An output takes over an input's buffer (in place) when `inPlace` allows it and the input dies at
/// that layer.
Expected<ExecutionLayout> layoutExecution(const Graph& graph, const std::vector<ValueInfo>& infos, size_t alignment,
                                          const InPlacePolicy& inPlace = {});

}  // namespace kiln
