#pragma once
// Runs each case in a forked child process, up to `jobs` at a time, each with a time limit and a
// memory limit. A child reports its CaseResult through a pipe; a child that dies by a signal or
// exits without a report becomes a `crash` (with the tail of what it printed), one that runs past
// its limit is killed and becomes a `timeout`. The parent never runs Kiln code, so the state a
// child inherits is the parent's clean one (no OpenMP pool, no half-built engine).

#include <functional>
#include <string>
#include <vector>

#include "conformance_case.h"

namespace kiln::conformance {

struct IsolationSettings {
    int jobs{1};
    double timeoutSeconds{60.0};
    size_t addressSpaceLimitBytes{0};  // 0: no limit
};

using CaseRunner = std::function<CaseResult(const CaseSpec&)>;
using ResultSink = std::function<void(size_t caseIndex, const CaseResult&)>;

/// Runs `run(cases[i])` for every case in a child of its own; `sink` receives each result in the
/// parent, in completion order.
void runIsolated(const std::vector<CaseSpec>& cases, const IsolationSettings& settings, const CaseRunner& run,
                 const ResultSink& sink);

}  // namespace kiln::conformance
