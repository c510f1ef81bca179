#pragma once
// Input dimensions that every optimization profile fixes to one extent (min == opt == max, the same in
// every profile). An engine built that way runs at that extent only, so the graph passes may treat the
// dimension as static: shape computations on it fold to constants, and patterns that need known
// extents match (attention whose head split reads the batch off Shape, say) as they would on a model
// exported with a static batch. Only the passes see the pinned shapes: the engine still declares the
// model's dynamic dimensions, and a context still checks each run's shape against the profile.

#include <string>
#include <utility>
#include <vector>

#include "engine/plan.h"
#include "ir/graph.h"

namespace kiln {

class PinnedInputDims {
public:
    /// Sets every pinned dimension of `graph`'s inputs to its extent; `restore` puts the declared shapes back.
    static PinnedInputDims pin(Graph& graph, const std::vector<ProfileShapes>& profiles);
    void restore() const;

    bool empty() const { return mDeclared.empty(); }
    /// "input dim 0 = 64, mask dim 0 = 64", for the build log.
    std::string describe() const;

private:
    std::vector<std::pair<Value*, SymShape>> mDeclared;  // the inputs changed, with their declared shapes
    std::vector<std::string> mPinned;                    // one "name dim i = n" per pinned dimension
};

}  // namespace kiln
