// CudaGraph: an execution context's prepared run, recorded once through the backend's stream capture
// and replayed. The core stays free of CUDA: capture, instantiation and launch are the backend's
// (Backend::beginCapture / endCapture, StreamGraph::launch); this file only decides when a recording
// is still valid, when to record again, and when to run without one.

#include "kiln/cuda_graph.h"

#include <string>
#include <vector>

#include "runtime/context_run.h"
#include "runtime/engine_impl.h"

namespace kiln {

/// What a recording depends on: the plan it replays (a new preparation means new shapes, arena or
/// kernel choices) and the I/O addresses baked into its launches.
struct CaptureKey {
    uint64_t preparation{0};
    std::vector<void*> addresses;
};

struct CudaGraphImpl {
    explicit CudaGraphImpl(ContextImpl& context) : ctx(context) {}

    ContextImpl& ctx;
    /// The last recording; after a state change it stays for an in-place update by the next one.
    std::unique_ptr<StreamGraph> graph;
    CaptureKey capturedAt;
    /// The state (and stream) a capture last failed at, so it is not tried again on every call.
    CaptureKey failedAt;
    Stream failedOn{nullptr};
    bool hasFailure{false};
    std::string failure;
    CudaGraphLaunch lastLaunch{CudaGraphLaunch::kNOT_CAPTURED};
    std::string notCapturedReason;

    /// Compared in place: the replay path allocates nothing.
    bool isCurrent(const CaptureKey& key) const {
        return key.preparation == ctx.preparation && key.addresses == ctx.ioAddresses;
    }

    /// One inference, by replay, by run-and-capture, or by a plain run.
    Status enqueue(Stream stream) {
        KILN_RETURN_IF_ERROR(prepareForRun(ctx, stream));
        // Checked on every call: a profiler or an output allocator attached after the capture would
        // otherwise be bypassed by the replay.
        if (Status capturable = checkCapturable(ctx); !capturable) return runWithoutGraph(stream, capturable.message());
        if (graph && isCurrent(capturedAt)) {
            KILN_RETURN_IF_ERROR(graph->launch(stream));
            ranBy(CudaGraphLaunch::kREPLAYED, "");
            return Status::ok();
        }
        if (hasFailure && stream == failedOn && isCurrent(failedAt)) return runWithoutGraph(stream, failure);

        // Run first: this call's results, and a warm-up so that nothing is initialized for the first
        // time (module loading, library setup) while the stream is being recorded.
        KILN_RETURN_IF_ERROR(runPrepared(ctx, stream));
        const CaptureKey key{ctx.preparation, ctx.ioAddresses};
        Expected<bool> updated = record(stream);
        if (!updated) {
            hasFailure = true;
            failedAt = key;
            failedOn = stream;
            failure = "the capture failed: " + updated.status().message();
            ctx.engine.log.verbose("CUDA graph: " + failure + "; running without a graph");
            ranBy(CudaGraphLaunch::kNOT_CAPTURED, failure);
            return Status::ok();
        }
        capturedAt = key;
        hasFailure = false;
        ranBy(*updated ? CudaGraphLaunch::kUPDATED : CudaGraphLaunch::kCAPTURED, "");
        ctx.engine.log.verbose(std::string("CUDA graph ") + (*updated ? "updated in place" : "captured") + " for " +
                               std::to_string(ctx.steps.size()) + " layers");
        return Status::ok();
    }

    /// Records a second run of the prepared plan into `graph` (which keeps the last good recording's
    /// executable for an in-place update; the backend resets it when that is impossible).
    Expected<bool> record(Stream stream) {
        Backend& backend = *ctx.engine.backend;
        std::unique_ptr<StreamGraph> previous = std::move(graph);
        KILN_RETURN_IF_ERROR(backend.beginCapture(stream));
        if (Status recorded = runPrepared(ctx, stream); !recorded) {
            backend.abortCapture(stream);
            return recorded;
        }
        graph = std::move(previous);
        return backend.endCapture(stream, graph);
    }

    Status runWithoutGraph(Stream stream, const std::string& reason) {
        KILN_RETURN_IF_ERROR(runPrepared(ctx, stream));
        ranBy(CudaGraphLaunch::kNOT_CAPTURED, reason);
        return Status::ok();
    }

    void ranBy(CudaGraphLaunch launch, const std::string& reason) {
        lastLaunch = launch;
        notCapturedReason = reason;
    }
};

CudaGraph::CudaGraph(ExecutionContext& context) noexcept : mImpl(std::make_unique<CudaGraphImpl>(*context.mImpl)) {}

CudaGraph::~CudaGraph() = default;

bool CudaGraph::enqueue(Stream stream) noexcept {
    ContextImpl& ctx = mImpl->ctx;
    RunGuard guard(ctx.running);
    if (!guard.acquired()) {
        ctx.engine.log.error(
            "CudaGraph::enqueue: this execution context is already running; use one context per concurrent inference");
        return false;
    }
    return guarded(ctx.engine.log, "CudaGraph::enqueue", [&] { return mImpl->enqueue(stream); });
}

CudaGraphLaunch CudaGraph::getLastLaunch() const noexcept { return mImpl->lastLaunch; }

const char* CudaGraph::getNotCapturedReason() const noexcept { return mImpl->notCapturedReason.c_str(); }

}  // namespace kiln
