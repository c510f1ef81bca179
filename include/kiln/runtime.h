#pragma once
/// \file runtime.h
/// Runtime -> Engine -> ExecutionContext, as in TensorRT. I/O tensors are addressed by name.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#include <string>

#include "kiln/logger.h"
#include "kiln/types.h"

namespace kiln {

class ExecutionContext;
struct EngineImpl;

/// What an I/O holds. ONNX models may take and return sequences of tensors and optionals besides
/// tensors (ONNX Runtime's OrtValue of sequence / optional type); TensorRT has no such values.
/// Sequence and optional I/O is set with setInputSequence() / setInputOptional() and read with
/// getOutputValue(), never through setTensorAddress(). Only CPU engines take or return them.
enum class IOKind : int32_t {
    kTENSOR = 0,
    kSEQUENCE = 1,           ///< seq(tensor): any number of tensors of one element type, shapes may differ
    kOPTIONAL_TENSOR = 2,    ///< optional(tensor): one tensor or none
    kOPTIONAL_SEQUENCE = 3,  ///< optional(seq(tensor)): one sequence or none
};

/// A tensor in host memory: an element of a sequence, or what an optional holds. Dense, row-major.
struct HostTensor {
    DataType dtype{DataType::kFLOAT};
    Dims dims{};
    const void* data{nullptr};
};

/// Receives per-layer run times, as TensorRT's IProfiler does. Attach one to an ExecutionContext
/// with setProfiler(); each run then times every layer (waiting for the layer to finish before the
/// next starts, so layers do not overlap) and calls reportLayerTime() once per layer, in run order.
/// Profiling slows a run down; leave it off for throughput measurements.
class IProfiler {
public:
    virtual ~IProfiler() = default;
    /// `layerName` is the layer's name in Engine::getLayerInformationJson(); `ms` its wall time.
    virtual void reportLayerTime(const char* layerName, float ms) noexcept = 0;
};
struct ContextImpl;

/// A deserialized engine: the optimized network, its weights and its profiles. Immutable and
/// shared by all its execution contexts.
class Engine {
public:
    ~Engine();
    int32_t getNbIOTensors() const noexcept;
    /// Name of I/O tensor `index` (inputs first, each group in the model's order).
    const char* getIOTensorName(int32_t index) const noexcept;
    TensorIOMode getTensorIOMode(const char* name) const noexcept;
    /// The element type of an I/O tensor; a low-bit type's buffer holds one element per byte (see
    /// DataType), not ONNX's packed form.
    DataType getTensorDataType(const char* name) const noexcept;
    /// Shape with -1 for dimensions chosen at run time; nbDims == -1 for an unknown name.
    /// For a sequence or optional I/O: getTensorDataType() is its tensors' element type and
    /// getTensorShape() their shape where the model fixes it (nbDims == -1 where it does not).
    Dims getTensorShape(const char* name) const noexcept;
    /// Whether I/O `name` is a tensor, a sequence or an optional (kTENSOR for an unknown name).
    IOKind getIOKind(const char* name) const noexcept;

    int32_t getNbOptimizationProfiles() const noexcept;
    /// min/opt/max of an input in a profile; nbDims == -1 when out of range.
    Dims getProfileShape(const char* name, int32_t profileIndex, OptProfileSelector select) const noexcept;
    /// True for a shape-tensor input: its contents decide shapes, so the context reads it from host
    /// memory before each run (give its address in host memory).
    bool isShapeInferenceIO(const char* name) const noexcept;
    /// A shape-tensor input's min / opt / max values in a profile (empty when it has none).
    std::vector<int64_t> getProfileShapeValues(const char* name, int32_t profileIndex,
                                               OptProfileSelector select) const noexcept;

    int32_t getNbLayers() const noexcept;
    /// Bytes of activation memory a context needs for the largest shapes of any profile.
    size_t getDeviceMemorySize() const noexcept;
    size_t getDeviceMemorySizeForProfile(int32_t profileIndex) const noexcept;
    /// "cpu" or "cuda".
    const char* getBackendName() const noexcept;

    /// The engine's layers as JSON ({"Layers": [...], "Bindings": [...]}).
    std::string getLayerInformationJson() const noexcept;

    /// A new context, or nullptr (with a logged reason).
    std::unique_ptr<ExecutionContext> createExecutionContext() noexcept;
    /// A context that will run in memory given by setDeviceMemory().
    std::unique_ptr<ExecutionContext> createExecutionContextWithoutDeviceMemory() noexcept;

    EngineImpl& impl() noexcept { return *mImpl; }

private:
    friend class Runtime;
    explicit Engine(std::unique_ptr<EngineImpl> impl);
    std::unique_ptr<EngineImpl> mImpl;
};

/// Receives an output whose size is known only during a run: data-dependent shapes (NonZero,
/// NonMaxSuppression, Unique, ...), as TensorRT's IOutputAllocator. Also usable for outputs of
/// static shape: the context then asks it for the buffer on every run.
class IOutputAllocator {
public:
    virtual ~IOutputAllocator() = default;
    /// A buffer (device memory for a GPU engine) of at least `size` bytes for `tensorName`.
    /// `currentMemory` is the buffer given last (or by setTensorAddress), which may be returned when
    /// large enough. Returning nullptr fails the run.
    virtual void* reallocateOutput(const char* tensorName, void* currentMemory, uint64_t size,
                                   uint64_t alignment) noexcept = 0;
    /// The output's shape in this run, once its data is written.
    virtual void notifyShape(const char* tensorName, const Dims& dims) noexcept = 0;
};

/// Per-inference state: the shapes in use, the tensor addresses and activation memory. One
/// context runs one inference at a time; use one context per concurrent stream.
class ExecutionContext {
public:
    ~ExecutionContext();
    bool setOptimizationProfile(int32_t profileIndex) noexcept;
    int32_t getOptimizationProfile() const noexcept;
    /// Sets the run-time shape of a dynamic input; fails when outside the profile's range.
    bool setInputShape(const char* name, const Dims& dims) noexcept;
    /// Input shape as set, or an output's shape inferred from the input shapes (-1 where not
    /// yet known).
    Dims getTensorShape(const char* name) const noexcept;
    bool allInputDimensionsSpecified() const noexcept;
    /// The address of an input or output buffer (device memory for a GPU engine, host memory for CPU).
    bool setTensorAddress(const char* name, void* address) noexcept;
    const void* getTensorAddress(const char* name) const noexcept;
    /// Sets a sequence input (kSEQUENCE), or an optional-sequence input (kOPTIONAL_SEQUENCE) to hold
    /// this sequence: `count` tensors (0 for an empty sequence) of the I/O's element type. The context
    /// copies the data, so the caller's buffers may be reused at once.
    bool setInputSequence(const char* name, const HostTensor* elements, int32_t count) noexcept;
    /// Sets an optional input: to hold `tensor` (kOPTIONAL_TENSOR only; copied) or, with nullptr, to
    /// be empty (either optional kind).
    bool setInputOptional(const char* name, const HostTensor* tensor) noexcept;
    /// After a run, a sequence or optional output: `present` false for an empty optional; otherwise
    /// `tensors` holds the sequence's elements or the optional's contents (one tensor, or its
    /// sequence's elements). The views stay valid until the next run on this context.
    bool getOutputValue(const char* name, std::vector<HostTensor>& tensors, bool& present) const noexcept;
    /// Whether output `name`'s shape, at the input shapes set, depends on input values (NonZero, a
    /// sequence's contents): it then needs an output allocator on every run, even after a run made
    /// getTensorShape() report a concrete shape. False for inputs, unknown names and unset shapes.
    bool hasDataDependentShape(const char* name) const noexcept;
    /// Makes `allocator` provide the buffer of output `name` on each run (nullptr removes it).
    /// Required for an output whose shape depends on input values (getTensorShape() reports -1
    /// there until a run); after a run, getTensorShape() reports the shape of that run.
    bool setOutputAllocator(const char* name, IOutputAllocator* allocator) noexcept;
    IOutputAllocator* getOutputAllocator(const char* name) const noexcept;
    /// Runs the engine asynchronously on `stream`. A GPU engine's run may be recorded by a CUDA stream
    /// capture once the context has run at its current shapes (preparing for new shapes allocates);
    /// kiln/cuda_graph.h does that bookkeeping.
    bool enqueue(Stream stream) noexcept;
    /// Runs the engine and waits for it to finish.
    bool execute() noexcept;
    /// Gives the context `bytes` of activation memory owned by the caller (at least
    /// Engine::getDeviceMemorySizeForProfile()).
    bool setDeviceMemory(void* memory, size_t bytes) noexcept;
    /// Attaches a profiler (not owned; nullptr detaches it) that every later run reports to.
    void setProfiler(IProfiler* profiler) noexcept;
    IProfiler* getProfiler() const noexcept;
    const Engine& getEngine() const noexcept { return mEngine; }

private:
    friend class Engine;
    friend class CudaGraph;  // captures and replays the context's prepared runs (kiln/cuda_graph.h)
    ExecutionContext(Engine& engine, std::unique_ptr<ContextImpl> impl);
    Engine& mEngine;
    std::unique_ptr<ContextImpl> mImpl;
};

class Runtime {
public:
    /// Deserializes an engine; nullptr (with a message saying what was expected and what was
    /// found) for a truncated, corrupted, non-engine, other-version or other-device file.
    std::unique_ptr<Engine> deserializeEngine(const void* data, size_t size) noexcept;

private:
    friend std::unique_ptr<Runtime> createRuntime(ILogger& logger) noexcept;
    explicit Runtime(ILogger& logger) : mLogger(logger) {}
    ILogger& mLogger;
};

std::unique_ptr<Runtime> createRuntime(ILogger& logger) noexcept;

}  // namespace kiln
