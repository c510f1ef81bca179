#pragma once
// Runs a subgraph (the body of If / Loop / Scan, FlexAttention's score_mod / prob_mod) with the
// kernels of one backend, in that backend's memory, on the caller's stream: the kernels are created
// once, then every run infers the nodes' shapes from the actual inputs, reshapes the kernels whose
// shapes changed and runs them in order. Node outputs live in backend buffers the executor keeps
// and reuses while their shapes stay the same.
//
// Inference needs values for ops whose shapes are computed from data (Reshape's shape, Slice's
// starts, ...). On a host-memory backend (CPU) every value is readable, so inference sees them all.
// On a device backend it sees constants and what inference itself computes; a node whose output
// shape is still unknown then has its small inputs copied back to the host (a stream
// synchronization) and is inferred again. Ops whose shapes depend on values by definition (NonZero,
// a nested If or Loop) report theirs through their kernel (Kernel::computeOutputShapes).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/op_registry.h"

namespace kiln {

/// A backend allocation freed with the owner; moves, does not copy.
class BackendBuffer {
public:
    BackendBuffer() = default;
    BackendBuffer(Backend& backend, size_t bytes);
    ~BackendBuffer() { release(); }
    BackendBuffer(BackendBuffer&& other) noexcept { *this = std::move(other); }
    BackendBuffer& operator=(BackendBuffer&& other) noexcept;
    BackendBuffer(const BackendBuffer&) = delete;
    BackendBuffer& operator=(const BackendBuffer&) = delete;

    void* data() const { return mData; }
    size_t bytes() const { return mBytes; }

private:
    void release();
    Backend* mBackend{nullptr};
    void* mData{nullptr};
    size_t mBytes{0};
};

/// A tensor in a backend's memory, owning its buffer.
struct BackendTensor {
    DataType dtype{DataType::kFLOAT};
    Shape shape;
    BackendBuffer buffer;

    TensorView view() const { return {dtype, shape, buffer.data()}; }
    /// Allocates (or keeps, when dtype and byte size already fit) a buffer for `dtype` `shape`.
    Status reset(Backend& backend, DataType type, const Shape& newShape, const std::string& what);
};

/// A copy of `view` in a new backend buffer, enqueued on `stream`.
Expected<BackendTensor> copyToBackendTensor(Backend& backend, const TensorView& view, Stream stream);

class SubgraphExecutor {
public:
    /// Whether one node can run on the executor's backend; sets the reason when not.
    using NodeSupport = std::function<bool(const Node&, std::string*)>;

    /// Creates the kernels of every node of `graph` with `backend`; `scope` ("then_branch of node 3
    /// 'If_3' (If)") prefixes errors. Constants are copied to the backend's memory once here.
    static Expected<std::unique_ptr<SubgraphExecutor>> create(Backend& backend, std::shared_ptr<const Graph> graph,
                                                              std::string scope);

    /// Whether `nodeSupported` holds for every node of `graph` (a nested If, Loop or Scan checks its
    /// own subgraphs in its support check).
    static bool supports(const Graph& graph, const NodeSupport& nodeSupported, std::string* reason);

    /// Runs the graph with `inputs` (backend memory) bound to its inputs by position, enqueuing the
    /// kernels on `stream`. The returned views (one per graph output) stay valid until the next run;
    /// one may be an input's view when the graph passes an input through.
    Expected<std::vector<TensorView>> run(const std::vector<TensorView>& inputs, Stream stream,
                                          StringArena* strings = nullptr, HostValueStore* hostValues = nullptr);

    Backend& backend() const { return mBackend; }

private:
    SubgraphExecutor(Backend& backend, std::shared_ptr<const Graph> graph, std::string scope);
    Status runNode(size_t index, Stream stream, StringArena* strings, HostValueStore* hostValues);
    /// Learns the output shapes of a node that inference at this run's shapes left unknown: from its
    /// kernel for ops whose shapes depend on values (OpSchema::dataDependentShape), else by reading
    /// its small inputs back to the host and inferring again.
    Status learnUnknownShapes(const Node& node, Kernel& kernel, const std::vector<TensorView>& inputs, Stream stream);
    /// A ValueInfo for a tensor bound in this run: on a host backend its value is the data itself.
    ValueInfo infoOf(const TensorView& view, const ContainerType& container) const;

    Backend& mBackend;
    std::shared_ptr<const Graph> mGraph;
    std::string mScope;
    std::vector<std::unique_ptr<Kernel>> mKernels;  // by node index
    std::vector<ValueInfo> mInfos;                  // by value id; values set to the current data
    std::vector<TensorView> mViews;                 // by value id
    std::vector<BackendTensor> mStorage;            // by value id: node outputs, and constants on a device
    std::vector<std::vector<Shape>> mReshapedWith;  // by node index: the input and output shapes of the last reshape
    BackendBuffer mWorkspace;
};

}  // namespace kiln
