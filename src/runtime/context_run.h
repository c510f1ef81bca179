#pragma once
// The steps of one ExecutionContext run, for the two ways to run a context: enqueue()
// (execution_context.cpp) and CudaGraph::enqueue() (cuda_graph.cpp), which prepares the context,
// runs it once and records a second run of the same prepared plan.

#include <atomic>
#include <new>
#include <stdexcept>
#include <string>

#include "common/logging.h"
#include "common/status.h"
#include "runtime/engine_impl.h"

namespace kiln {

/// Makes the context ready to run at its current shapes: re-reads shape-tensor inputs and, when a
/// shape, profile or memory changed since the last run, prepares again (shape inference, memory
/// layout, kernel reshape: allocations, so never while `stream` is being captured).
Status prepareForRun(ContextImpl& ctx, Stream stream);

/// One run of a prepared context on `stream`: patches the I/O addresses into the plan and enqueues
/// every layer (or runs the data-dependent path node by node).
Status runPrepared(ContextImpl& ctx, Stream stream);

/// Ok when a run of the prepared context only enqueues device work, so that a stream capture can
/// record it; else why not (a profiler, an output allocator, a data-dependent or host-reading layer).
Status checkCapturable(const ContextImpl& ctx);

/// Guards a context against concurrent use: one context runs one inference at a time.
class RunGuard {
public:
    explicit RunGuard(std::atomic<bool>& flag) : mFlag(flag), mAcquired(!flag.exchange(true)) {}
    ~RunGuard() {
        if (mAcquired) mFlag.store(false);
    }
    RunGuard(const RunGuard&) = delete;
    RunGuard& operator=(const RunGuard&) = delete;
    bool acquired() const { return mAcquired; }

private:
    std::atomic<bool>& mFlag;
    bool mAcquired;
};

/// Runs `fn` (returning Status) for a noexcept public entry point: a failure or an exception is
/// logged as an error and becomes false.
template <typename Fn>
bool guarded(const Logger& log, const char* what, Fn&& fn) noexcept {
    try {
        Status s = fn();
        if (!s) log.error(s.message());
        return s.isOk();
    } catch (const std::bad_alloc&) {
        log.error(std::string(what) + ": out of memory");
    } catch (const std::exception& e) {
        log.error(std::string(what) + ": " + e.what());
    }
    return false;
}

}  // namespace kiln
