#pragma once
// The state behind kiln::Engine and kiln::ExecutionContext.

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/backend.h"
#include "common/logging.h"
#include "engine/plan.h"
#include "ir/op_registry.h"
#include "kiln/runtime.h"
#include "runtime/execution_layout.h"

namespace kiln {

struct IOTensor {
    std::string name;
    TensorIOMode mode{TensorIOMode::kNONE};
    Value* value{nullptr};
};

struct EngineImpl {
    Logger log;
    EnginePlan plan;
    Backend* backend{nullptr};
    std::vector<IOTensor> io;  // inputs first, then outputs, each in the model's order
    /// Device copies of the constants (by value id) for backends whose memory is not the host's.
    std::unordered_map<int32_t, void*> deviceConstants;

    ~EngineImpl();
    const IOTensor* findIO(const char* name) const;
    /// Where constant `value` lives in backend memory.
    void* constantAddress(const Value& value) const;
};

/// Per-context state: shapes, bindings, prepared kernels and the activation arena.
struct ContextImpl {
    EngineImpl& engine;
    int32_t profile{0};
    std::vector<Shape> inputShapes;     // by io index (inputs only); empty until set
    std::vector<bool> inputShapeSet;
    std::vector<void*> ioAddresses;     // by io index
    /// Contents of the shape-tensor inputs the current preparation used (by io index).
    std::vector<std::vector<int64_t>> shapeInputValues;
    std::vector<IOutputAllocator*> outputAllocators;  // by io index (outputs only); nullptr when none
    std::vector<std::unique_ptr<Kernel>> kernels;  // by node index
    bool prepared{false};
    /// Counts completed preparations: work recorded from a run (CudaGraph) replays the plan of the
    /// preparation it was recorded at, and is stale after the next one.
    uint64_t preparation{0};
    /// Why a run of the prepared plan cannot be recorded by a stream capture (the first data-dependent
    /// or host-reading layer); empty when it can.
    std::string captureBlocker;

    // Prepared at the current shapes:
    std::vector<ValueInfo> infos;  // after a data-dependent run: the shapes of that run
    /// Some shape depends on values computed during the run: every run infers, allocates and runs
    /// node by node from `preparedInfos` (runtime/data_dependent_run.h) instead of the static plan.
    bool dataDependent{false};
    std::vector<ValueInfo> preparedInfos;
    ExecutionLayout layout;
    struct Step {
        size_t nodeIndex;
        std::vector<TensorView> inputs, outputs;
    };
    std::vector<Step> steps;
    /// Run-time patches: step slot <- io buffer (addresses may change between runs).
    struct Binding {
        size_t step;
        bool isOutput;
        size_t slot;
        size_t ioIndex;
    };
    std::vector<Binding> bindings;
    /// Outputs that no run-time node writes (an input, a constant or a folded value): copied.
    struct OutputCopy {
        size_t ioIndex;
        const void* source;     // backend memory, or nullptr when `sourceIO` names an input
        int64_t sourceIO{-1};
        size_t bytes;
        bool sourceIsHost;
    };
    std::vector<OutputCopy> outputCopies;
    /// Device copies of folded values (backends whose memory is not the host's).
    std::vector<void*> foldedDeviceBuffers;

    size_t workspaceBytes{0};
    void* arena{nullptr};
    size_t arenaCapacity{0};
    bool arenaOwned{true};
    /// Bytes of the strings this context's kernels produce; cleared at the start of every run, so
    /// string outputs stay valid until the next run (kiln/types.h, StringView).
    StringArena strings;
    /// The sequences and optionals this context's kernels produce; cleared at the start of every run
    /// like `strings` (backends/host_value.h).
    HostValueStore hostValues;
    /// By io index, for sequence and optional I/O: the handle slot that is the I/O's bound address
    /// (sized once, so the addresses stay put), and an input's contents as set by the caller.
    std::vector<const HostValue*> ioHandles;
    std::vector<std::unique_ptr<HostValue>> inputHostValues;
    IProfiler* profiler{nullptr};  // not owned; when set, run() times each layer
    std::atomic<bool> running{false};

    explicit ContextImpl(EngineImpl& e) : engine(e) {}
    ~ContextImpl();
};

}  // namespace kiln
