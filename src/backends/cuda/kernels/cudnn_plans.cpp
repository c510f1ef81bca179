#include "backends/cuda/kernels/cudnn_plans.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace kiln::cuda {

namespace {

namespace fe = cudnn_frontend;

using Knobs = std::unordered_map<fe::KnobType_t, int64_t>;

/// The plan at `index` as {kind, engine id, knob type, knob value, ...}, the knobs in type order so
/// that one configuration always reads the same.
Expected<std::vector<int64_t>> planState(const fe::graph::Graph& graph, int64_t index, int64_t kind) {
    int64_t engine = 0;
    Knobs knobs;
    KILN_RETURN_IF_ERROR(
        cudnnFrontendStatus(graph.get_engine_and_knobs_at_index(index, engine, knobs), "engine query"));
    std::vector<std::pair<int64_t, int64_t>> sorted;
    for (const auto& [type, value] : knobs) sorted.emplace_back(static_cast<int64_t>(type), value);
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> state = {kind, engine};
    for (const auto& [type, value] : sorted) {
        state.push_back(type);
        state.push_back(value);
    }
    return state;
}

/// Adds the engine configuration `state` names to the graph's list; true when it was added (the state
/// is of this kind of graph and cuDNN knows its engine for this operation graph).
bool addPreferredPlan(fe::graph::Graph& graph, const std::vector<int64_t>& state, int64_t kind) {
    if (state.size() < 2 || state.size() % 2 != 0 || state[0] != kind) return false;
    Knobs knobs;
    for (size_t i = 2; i < state.size(); i += 2) knobs[static_cast<fe::KnobType_t>(state[i])] = state[i + 1];
    const int64_t before = graph.get_execution_plan_count();
    return graph.create_execution_plan(state[1], knobs).is_good() && graph.get_execution_plan_count() == before + 1;
}

}  // namespace

std::mutex& cudnnHandleMutex() {
    static std::mutex mutex;
    return mutex;
}

Status cudnnFrontendStatus(fe::error_t error, const std::string& step) {
    if (error.is_good()) return Status::ok();
    return unsupported("cuDNN " + step + ": " + error.get_message());
}

Status CudnnPlanList::build(fe::graph::Graph& graph, const CudnnPlanRequest& request) {
    mPlans.clear();
    mSelected = 0;
    KILN_RETURN_IF_ERROR(
        cudnnFrontendStatus(graph.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}), "heuristics"));
    const int64_t listed = graph.get_execution_plan_count();
    // The preferred configuration is appended after the heuristics' and tried first; the filters below
    // apply to it as to the others, so a choice that no longer fits them is dropped without an error.
    std::vector<int64_t> order;
    if (!request.preferred.empty() && addPreferredPlan(graph, request.preferred, request.graphKind))
        order.push_back(listed);
    for (int64_t index = 0; index < listed; ++index) order.push_back(index);
    if (request.forbidTensorCores) graph.deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE});
    graph.deselect_workspace_greater_than(request.maxWorkspace);

    const size_t wanted = std::max<size_t>(request.maxCandidates, 1);
    std::string firstFailure;
    for (int64_t index : order) {
        if (mPlans.size() >= wanted) break;
        // Checks support (notes, workspace, shared memory) and builds; configurations that fail are
        // skipped, as cuDNN's own HEURISTICS_CHOICE policy skips them.
        fe::error_t built = graph.build_plan_at_index(index);
        if (!built.is_good()) {
            if (firstFailure.empty()) firstFailure = built.get_message();
            continue;
        }
        auto state = planState(graph, index, request.graphKind);
        if (!state) continue;
        // The preferred plan is also somewhere in the heuristics' list: list it once.
        const bool listedAlready =
            std::any_of(mPlans.begin(), mPlans.end(), [&](const Plan& p) { return p.state == *state; });
        if (listedAlready) continue;
        int64_t workspace = 0;
        if (!graph.get_workspace_size_plan_at_index(index, workspace).is_good()) continue;
        mPlans.push_back({index, workspace, std::move(state).value()});
    }
    if (mPlans.empty())
        return unsupported("cuDNN: no execution plan builds" +
                           (firstFailure.empty() ? std::string() : ": " + firstFailure));
    // Done once here, so run() only reads the graph (execute would otherwise prepare it lazily).
    return cudnnFrontendStatus(graph.prepare_variant_pack_template(), "variant pack");
}

Status CudnnPlanList::select(size_t index) {
    if (index >= mPlans.size())
        return invalidArgument("cuDNN plan " + std::to_string(index) + " of " + std::to_string(mPlans.size()));
    mSelected = index;
    return Status::ok();
}

}  // namespace kiln::cuda
