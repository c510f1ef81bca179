#pragma once
/// \file cuda_graph.h
/// Running an ExecutionContext through a CUDA graph: the context's work is captured once and each
/// later inference is one cudaGraphLaunch instead of one launch per layer, which removes nearly all
/// of enqueue()'s host time. This is what trtexec's --useCudaGraph does by hand around enqueueV3();
/// here it is packaged with the bookkeeping that is easy to get wrong: capturing again when shapes,
/// profile or tensor addresses change, and falling back to a plain enqueue() when the engine's work
/// cannot be captured.

#include <cstdint>
#include <memory>

#include "kiln/runtime.h"

namespace kiln {

struct CudaGraphImpl;

/// How CudaGraph::enqueue() ran an inference.
enum class CudaGraphLaunch : int32_t {
    /// The graph captured by an earlier call was launched.
    kREPLAYED = 0,
    /// The context's shapes, profile or addresses were new: the context ran by enqueue(), then the same
    /// run was captured and instantiated as a new graph for the next calls.
    kCAPTURED = 1,
    /// As kCAPTURED, but the graph already instantiated was updated in place (cudaGraphExecUpdate),
    /// which is cheaper than instantiating: the new work has the same layers, only other parameters.
    kUPDATED = 2,
    /// The context ran by enqueue() alone: its work cannot be captured at these shapes and settings
    /// (getNotCapturedReason() says why). The same state is not tried again.
    kNOT_CAPTURED = 3,
};

/// Runs an execution context through a CUDA graph. Use it in place of ExecutionContext::enqueue():
///
///     kiln::CudaGraph graph(*context);
///     graph.enqueue(stream);   // runs, then captures: kCAPTURED (or kNOT_CAPTURED, with the reason)
///     graph.enqueue(stream);   // one cudaGraphLaunch: kREPLAYED
///
/// Each call runs exactly one inference, whichever way, so a caller never has to fall back by hand;
/// getLastLaunch() says which way it went. The graph records the tensor addresses and shapes of its
/// capture, so setInputShape(), setOptimizationProfile(), setDeviceMemory() or setTensorAddress()
/// on the context lead to a new capture on the next call. The inputs' contents may change freely.
///
/// The stream must be one the caller created (the legacy default stream cannot be captured); the
/// capture is thread-local (cudaStreamCaptureModeThreadLocal), so other threads keep running their own
/// contexts meanwhile. Work that cannot be captured: engines with data-dependent shapes, layers that
/// read computed values back to the host, contexts with a profiler or an output allocator attached,
/// and CPU engines. Like the context, a CudaGraph runs one inference at a time.
class CudaGraph {
public:
    /// A graph runner for `context`, which must outlive it. Nothing is captured before enqueue().
    explicit CudaGraph(ExecutionContext& context) noexcept;
    ~CudaGraph();
    CudaGraph(const CudaGraph&) = delete;
    CudaGraph& operator=(const CudaGraph&) = delete;

    /// Runs one inference of the context asynchronously on `stream` (see the class comment). False
    /// when the inference itself failed (the reason goes to the engine's logger), as enqueue() would.
    bool enqueue(Stream stream) noexcept;
    /// How the last successful enqueue() ran.
    CudaGraphLaunch getLastLaunch() const noexcept;
    /// Why the last enqueue() ran without a graph (kNOT_CAPTURED); empty otherwise.
    const char* getNotCapturedReason() const noexcept;

private:
    std::unique_ptr<CudaGraphImpl> mImpl;
};

}  // namespace kiln
