#pragma once
// The execution plans a cuDNN frontend graph may run with, as a kernel's tactics (backends/tactic_choice.h):
// the engine configurations cuDNN's heuristics list for the graph that build and pass the support checks,
// in the heuristics' order. A plan is identified again by its engine id and knob choices (the cuDNN
// frontend rebuilds a plan from them), which stay valid on the same GPU and cuDNN version: what the
// engine and the timing cache record beside the tactic.

#include <cudnn_frontend.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln::cuda {

/// Held from setting the stream of the backend's one cuDNN handle to the end of the execute that follows:
/// the handle serves every execution context (kiln exec --infStreams=N --threads), and another thread's
/// stream set in between would run this layer on that context's stream. It spans the enqueue only; the
/// device work stays asynchronous.
std::mutex& cudnnHandleMutex();

/// OK, or the frontend's error as an unsupported Status naming the `step` that failed.
Status cudnnFrontendStatus(cudnn_frontend::error_t error, const std::string& step);

struct CudnnPlanRequest {
    /// How many plans to list (the builder's kTacticSearchAttribute; 1: only the default one).
    size_t maxCandidates{1};
    /// A CudnnPlanList::state() of an earlier list (the builder's timed choice): listed first when it
    /// applies to this graph and still builds; otherwise ignored.
    std::vector<int64_t> preferred;
    /// Which of its caller's graphs this is (e.g. fused or not): part of the state, so a state is only
    /// ever applied to the kind of graph it was chosen on.
    int64_t graphKind{0};
    /// Leaves out engines that use the tensor cores (float data without TF32).
    bool forbidTensorCores{false};
    /// Plans needing more scratch than this are not candidates.
    int64_t maxWorkspace{0};
};

class CudnnPlanList {
public:
    /// Lists the plans of `graph`, whose operation graph is built and whose heuristics have not been
    /// queried yet; the first listed is selected. Fails when no plan builds.
    Status build(cudnn_frontend::graph::Graph& graph, const CudnnPlanRequest& request);
    /// Forgets the plans (their graph is gone).
    void clear() {
        mPlans.clear();
        mSelected = 0;
    }
    size_t count() const { return mPlans.size(); }
    Status select(size_t index);
    /// The frontend's index of the selected plan (for execute_plan_at_index).
    int64_t planIndex() const { return mPlans.empty() ? -1 : mPlans[mSelected].index; }
    int64_t workspaceBytes() const { return mPlans.empty() ? 0 : mPlans[mSelected].workspaceBytes; }
    /// The selected plan as {graph kind, engine id, knob type, knob value, ...}; empty when none.
    std::vector<int64_t> state() const { return mPlans.empty() ? std::vector<int64_t>{} : mPlans[mSelected].state; }

private:
    struct Plan {
        int64_t index{0};
        int64_t workspaceBytes{0};
        std::vector<int64_t> state;
    };
    std::vector<Plan> mPlans;
    size_t mSelected{0};
};

}  // namespace kiln::cuda
