#include "passes/pass_manager.h"

#include <sstream>

#include "ir/verifier.h"

namespace kiln {

Expected<std::vector<PassStats>> PassManager::run(Graph& graph, PassContext& ctx) const {
    std::vector<PassStats> stats;
    for (const auto& pass : mPasses) {
        size_t before = graph.nodes().size();
        ctx.changes.clear();
        auto changed = pass->run(graph, ctx);
        if (!changed) return changed.status().withContext(std::string("pass ") + pass->name());
        for (const std::string& change : ctx.changes) ctx.log.verbose(std::string("[") + pass->name() + "] " + change);
        std::ostringstream oss;
        oss << "pass " << pass->name() << ": " << ctx.changes.size() << " change(s), layers " << before << " -> "
            << graph.nodes().size();
        ctx.log.verbose(oss.str());
        if (mVerify) {
            Status ok = verifyGraph(graph);
            if (!ok) return internalError(std::string("graph invalid after pass ") + pass->name() + ": " + ok.message());
        }
        stats.push_back({pass->name(), ctx.changes.size(), graph.nodes().size()});
    }
    return stats;
}

}  // namespace kiln
