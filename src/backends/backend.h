#pragma once
// The one narrow interface through which a backend plugs in (ggml-backend's shape: registry ->
// backend -> kernels + memory). The core knows only this header; the CUDA backend is a separate
// shared library loaded at run time (backend_registry.cpp), so the core builds and runs without CUDA.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backends/host_value.h"
#include "backends/string_arena.h"
#include "backends/tensor_view.h"
#include "common/status.h"
#include "ir/graph.h"
#include "kiln/types.h"

namespace kiln {

/// Bumped whenever Backend or Kernel change shape; a backend library built against another
/// version is refused at load. Version 3 brought stream capture (Backend's capture calls,
/// Kernel::isCapturable) and the string arena handed to kernels (KernelIO::strings); version 4 the
/// store of sequence and optional values (KernelIO::hostValues).
constexpr int kBackendInterfaceVersion = 4;

/// Everything a kernel's run needs. Views are prepared by the context when shapes change; only
/// data pointers of I/O tensors change between runs, so run() allocates nothing.
struct KernelIO {
    const TensorView* inputs{nullptr};  // nullptr data for an omitted optional input
    size_t numInputs{0};
    const TensorView* outputs{nullptr};
    size_t numOutputs{0};
    void* workspace{nullptr};
    size_t workspaceBytes{0};
    Stream stream{nullptr};
    /// Where kernels that produce kSTRING outputs keep the bytes (backends/string_arena.h).
    StringArena* strings{nullptr};
    /// Where kernels that produce sequences or optionals keep them (backends/host_value.h).
    HostValueStore* hostValues{nullptr};

    const TensorView& input(size_t i) const { return inputs[i]; }
    bool hasInput(size_t i) const { return i < numInputs && inputs[i].data != nullptr; }
    const TensorView& output(size_t i) const { return outputs[i]; }
};

/// One node's implementation. Life: create (attributes read, weights prepared) -> reshape (on
/// every shape change: shape-dependent choices, workspace size) -> run (many times).
class Kernel {
public:
    virtual ~Kernel() = default;
    virtual Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) {
        (void)inputs;
        (void)outputs;
        return Status::ok();
    }
    /// Scratch bytes run() needs at the shapes of the last reshape().
    virtual size_t workspaceSize() const { return 0; }
    virtual Status run(const KernelIO& io) = 0;
    /// For ops whose output shapes depend on input values (OpSchema::dataDependentShape): the
    /// output shapes for the inputs bound in `io` (its outputs are not bound yet). Called before
    /// reshape() and run() when inference could not know the shapes; a kernel may keep what it
    /// computed here for the run() that follows.
    virtual Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) {
        (void)io;
        return unsupported(tacticName() + " cannot report data-dependent output shapes");
    }
    /// The implementation's readable name, for logs and layer reports ("cpu.conv2d_im2col_sgemm").
    virtual std::string tacticName() const = 0;
    /// Whether run(), at the shapes of the last reshape(), only enqueues device work on io.stream: no
    /// host synchronization, allocation or copy through pageable host memory. Only such work can be
    /// recorded by a stream capture (Backend::beginCapture) and replayed. When not, `reason` says why.
    virtual bool isCapturable(std::string* reason) const {
        (void)reason;
        return true;
    }
};

/// Work recorded from a stream by Backend::beginCapture() / endCapture(), replayable as one launch (a
/// CUDA graph). It holds the addresses and launch parameters of the recording: a replay runs exactly
/// the recorded work, whatever changed since.
class StreamGraph {
public:
    virtual ~StreamGraph() = default;
    /// Enqueues one replay of the recorded work on `stream`.
    virtual Status launch(Stream stream) = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    /// "cpu", "cuda".
    virtual std::string name() const = 0;
    /// The target an engine is built for and must be loaded on, e.g. "x86_64" or
    /// "sm_90 CUDA 13.0 cuBLAS 13.1 cuDNN 9.19"; compared at engine load.
    virtual std::string targetDescription() const = 0;
    /// Whether this backend can run `node` (dtypes and shapes of the graph's values are set).
    /// When not, `reason` says why.
    virtual bool supports(const Node& node, std::string* reason) const = 0;
    virtual Expected<std::unique_ptr<Kernel>> createKernel(const Node& node) const = 0;

    /// Device memory. For the CPU these are host allocations.
    virtual void* allocate(size_t bytes) = 0;
    virtual void deallocate(void* ptr) = 0;
    virtual Status copyToDevice(void* dst, const void* src, size_t bytes, Stream stream) = 0;
    virtual Status copyToHost(void* dst, const void* src, size_t bytes, Stream stream) = 0;
    virtual Status copyOnDevice(void* dst, const void* src, size_t bytes, Stream stream) = 0;
    virtual Status synchronize(Stream stream) = 0;
    /// True when device memory is host memory (the CPU backend).
    virtual bool isHostMemory() const = 0;

    /// Starts recording, instead of running, the work this thread enqueues on `stream` until
    /// endCapture(). A call of this thread that cannot be recorded (an allocation, a synchronization)
    /// fails and fails the capture; other threads are not restricted. Backends that run on the host have
    /// nothing to record and refuse.
    virtual Status beginCapture(Stream stream) {
        (void)stream;
        return unsupported("the " + name() + " backend runs its kernels on the host: there is no stream to capture");
    }
    /// Ends the recording begun on `stream` and makes it replayable in `graph`: updated in place when
    /// `graph` holds an earlier recording of the same shape of work (cheaper than building a new one),
    /// else replaced. Returns whether it was updated in place. On failure `graph` is reset.
    virtual Expected<bool> endCapture(Stream stream, std::unique_ptr<StreamGraph>& graph) {
        (void)stream;
        graph.reset();
        return unsupported("the " + name() + " backend cannot capture streams");
    }
    /// Ends a recording whose work failed to enqueue, dropping what was recorded, so that `stream` runs
    /// work again.
    virtual void abortCapture(Stream stream) { (void)stream; }
    /// Whether work enqueued on `stream` is being recorded (by beginCapture() or by the caller's own
    /// capture) rather than run.
    virtual bool isCapturing(Stream stream) const {
        (void)stream;
        return false;
    }
    /// Alignment of every buffer the memory planner hands out.
    virtual size_t alignment() const { return 64; }
    /// Whether this backend's kernel for `node` may write its output over input `input` of the
    /// same size (it reads each element before writing it), letting the memory planner reuse the
    /// input's buffer when the input dies there.
    virtual bool canRunInPlace(const Node& node, size_t input) const {
        (void)node;
        (void)input;
        return false;
    }
};

/// Finds a backend by name: "cpu" is built in; others are shared libraries
/// (libkiln_backend_<name>.so) loaded on first use. Nullptr with `error` set when unavailable.
Backend* getBackend(const std::string& name, std::string* error = nullptr);

}  // namespace kiln
