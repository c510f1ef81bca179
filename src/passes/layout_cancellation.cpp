#include "passes/layout_cancellation.h"

#include <numeric>

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

std::vector<int64_t> permOf(const Node& t, size_t rank) {
    std::vector<int64_t> p(rank);
    std::iota(p.rbegin(), p.rend(), int64_t{0});  // default: reverse the dimensions
    return t.attrs.getInts("perm", p);
}

}  // namespace

Expected<bool> LayoutCancellation::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    for (const auto& nodePtr : graph.nodes()) {
        Node& outer = *nodePtr;
        if (!outer.domain.empty() || removed.count(&outer)) continue;
        if (outer.opType == "Transpose") {
            Node* inner = producerIs(outer.input(0), "Transpose");
            if (!inner || removed.count(inner) || !inner->input(0)->typeKnown) continue;
            size_t rank = inner->input(0)->shape.size();
            std::vector<int64_t> p1 = permOf(*inner, rank), p2 = permOf(outer, rank), composed(rank);
            for (size_t j = 0; j < rank; ++j) composed[j] = p1[static_cast<size_t>(p2[j])];
            bool identity = true;
            for (size_t j = 0; j < rank; ++j) identity = identity && composed[j] == static_cast<int64_t>(j);
            Value* x = inner->input(0);
            if (uses.onlyFeeds(outer.input(0))) removed.insert(inner);
            if (identity && !uses.isOutput(outer.output(0))) {
                graph.replaceAllUses(outer.output(0), x);
                removed.insert(&outer);
                ctx.record("cancelled " + inner->describe() + " and " + outer.describe());
            } else {
                outer.inputs[0] = x;
                outer.attrs.set("perm", composed);
                ctx.record("merged " + inner->describe() + " into " + outer.describe());
            }
        } else if (outer.opType == "Reshape") {
            Node* inner = producerIs(outer.input(0), "Reshape");
            auto target = intsConstant(outer.input(1));
            if (!inner || removed.count(inner) || !target) continue;
            if (std::find(target->begin(), target->end(), 0) != target->end()) continue;  // 0 copies a dim of the input
            if (uses.onlyFeeds(outer.input(0))) removed.insert(inner);
            outer.inputs[0] = inner->input(0);
            ctx.record("merged " + inner->describe() + " into " + outer.describe());
        }
    }
    if (ctx.changes.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
