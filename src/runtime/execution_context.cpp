// ExecutionContext: shapes are checked against the profile when set; the first run after a shape
// change "prepares" (concrete shape inference with shape tensors computed on the host, memory
// layout, kernel reshape); every run then only patches I/O addresses and runs the kernels. That split
// is also what makes a run capturable into a CUDA graph: preparing allocates, a prepared run does not.

#include <array>
#include <chrono>
#include <cstring>
#include <sstream>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"
#include "kiln/runtime.h"
#include "runtime/context_run.h"
#include "runtime/data_dependent_run.h"
#include "runtime/engine_impl.h"
#include "runtime/host_value_io.h"

namespace kiln {

namespace {

Shape fromDims(const Dims& dims) { return Shape(dims.d, dims.d + std::max(0, dims.nbDims)); }

Dims fromDimsShape(const Shape& shape) {
    Dims d;
    d.nbDims = static_cast<int32_t>(std::min<size_t>(shape.size(), kMaxDims));
    for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = shape[static_cast<size_t>(i)];
    return d;
}

size_t alignUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

/// Fails with a message naming the input when `shape` does not fit the input or its profile.
Status checkInputShape(const EngineImpl& engine, int32_t profile, const IOTensor& io, const Shape& shape) {
    const SymShape& declared = io.value->shape;
    if (shape.size() != declared.size()) {
        std::ostringstream oss;
        oss << "input '" << io.name << "': shape " << shapeToString(shape, true) << " has rank " << shape.size()
            << ", the engine expects rank " << declared.size() << " " << symShapeToString(declared);
        return invalidArgument(oss.str());
    }
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < 0 || (declared[i].isKnown() && declared[i].value != shape[i])) {
            return invalidArgument("input '" + io.name + "': shape " + shapeToString(shape, true) +
                                   " does not match the engine's " + symShapeToString(declared));
        }
    }
    const auto& profiles = engine.plan.profiles;
    if (profile < 0 || static_cast<size_t>(profile) >= profiles.size()) return Status::ok();
    auto it = profiles[static_cast<size_t>(profile)].inputs.find(io.name);
    if (it == profiles[static_cast<size_t>(profile)].inputs.end()) return Status::ok();
    const Shape& lo = it->second[0];
    const Shape& hi = it->second[2];
    for (size_t i = 0; i < shape.size() && i < lo.size(); ++i) {
        if (shape[i] < lo[i] || shape[i] > hi[i]) {
            std::ostringstream oss;
            oss << "input '" << io.name << "': shape " << shapeToString(shape, true) << " is outside optimization profile "
                << profile << " (min " << shapeToString(lo, true) << ", max " << shapeToString(hi, true) << ")";
            return invalidArgument(oss.str());
        }
    }
    return Status::ok();
}

/// The shape-value range of input `io` in the context's profile, or nullptr when it is not a
/// shape-tensor input there.
const std::array<std::vector<int64_t>, 3>* shapeValueRange(const ContextImpl& ctx, const IOTensor& io) {
    const auto& profiles = ctx.engine.plan.profiles;
    if (ctx.profile < 0 || static_cast<size_t>(ctx.profile) >= profiles.size()) return nullptr;
    const auto& values = profiles[static_cast<size_t>(ctx.profile)].shapeValues;
    auto it = values.find(io.name);
    return it == values.end() ? nullptr : &it->second;
}

/// Reads a shape-tensor input from the caller's host buffer and checks it against the profile.
Expected<std::vector<int64_t>> readShapeInput(const ContextImpl& ctx, size_t ioIndex, const Shape& shape) {
    const IOTensor& io = ctx.engine.io[ioIndex];
    const void* data = ctx.ioAddresses[ioIndex];
    if (!data)
        return invalidArgument("shape-tensor input '" + io.name +
                               "' is read on the host before running: setTensorAddress() it to host memory first");
    const auto& range = *shapeValueRange(ctx, io);
    std::vector<int64_t> values(static_cast<size_t>(shapeElementCount(shape)));
    for (size_t i = 0; i < values.size(); ++i)
        values[i] = io.value->dtype == DataType::kINT32 ? static_cast<const int32_t*>(data)[i]
                                                        : static_cast<const int64_t*>(data)[i];
    for (size_t i = 0; i < values.size() && i < range[0].size(); ++i)
        if (values[i] < range[0][i] || values[i] > range[2][i])
            return invalidArgument("shape-tensor input '" + io.name + "': value " + std::to_string(values[i]) +
                                   " at index " + std::to_string(i) + " is outside optimization profile " +
                                   std::to_string(ctx.profile) + " (min " + std::to_string(range[0][i]) + ", max " +
                                   std::to_string(range[2][i]) + ")");
    return values;
}

void releaseArena(ContextImpl& ctx) {
    if (ctx.arena && ctx.arenaOwned) ctx.engine.backend->deallocate(ctx.arena);
    if (ctx.arenaOwned) {
        ctx.arena = nullptr;
        ctx.arenaCapacity = 0;
    }
}

void releaseFolded(ContextImpl& ctx) {
    for (void* p : ctx.foldedDeviceBuffers) ctx.engine.backend->deallocate(p);
    ctx.foldedDeviceBuffers.clear();
}

/// Concrete shapes, memory layout and kernel reshape for the shapes set now.
Status prepare(ContextImpl& ctx) {
    EngineImpl& engine = ctx.engine;
    const Graph& graph = *engine.plan.graph;
    Backend& backend = *engine.backend;

    std::vector<ValueInfo> infos = initialValueInfos(graph);
    for (size_t i = 0; i < engine.io.size(); ++i) {
        const IOTensor& io = engine.io[i];
        if (io.mode != TensorIOMode::kINPUT) continue;
        Shape shape;
        if (ctx.inputShapeSet[i]) {
            shape = ctx.inputShapes[i];
        } else if (isFullyKnown(io.value->shape)) {
            shape = toConcrete(io.value->shape);
        } else {
            return invalidArgument("input '" + io.name + "' has dynamic shape " + symShapeToString(io.value->shape) +
                                   ": call setInputShape() before running");
        }
        ValueInfo& info = infos[static_cast<size_t>(io.value->id)];
        info.shape = fromConcrete(shape);
        info.known = true;
        ctx.shapeInputValues[i].clear();
        if (shapeValueRange(ctx, io)) {
            KILN_ASSIGN_OR_RETURN(ctx.shapeInputValues[i], readShapeInput(ctx, i, shape));
            Tensor value = Tensor::allocate(io.value->dtype, shape);
            if (value.byteSize()) std::memcpy(value.data(), ctx.ioAddresses[i], value.byteSize());
            info.value = std::move(value);
        }
    }
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    KILN_RETURN_IF_ERROR(inferShapes(graph, infos, options));
    releaseFolded(ctx);
    const Node* dataDependent = firstDataDependentNode(graph, infos);
    ctx.dataDependent = dataDependent != nullptr;
    if (ctx.dataDependent) {
        // No static plan: each run infers, allocates and runs node by node.
        ctx.steps.clear();
        ctx.bindings.clear();
        ctx.outputCopies.clear();
        ctx.preparedInfos = infos;
        ctx.infos = std::move(infos);
        ctx.captureBlocker = dataDependent->describe() +
                             ": its output shape depends on values computed during the run, so each run allocates "
                             "and waits for the device";
        ctx.prepared = true;
        ++ctx.preparation;
        return Status::ok();
    }
    KILN_ASSIGN_OR_RETURN(ExecutionLayout layout, layoutExecution(graph, infos, backend.alignment(),
                                                   [&](const Node& n, size_t i) { return backend.canRunInPlace(n, i); }));

    // Views of every value that a run-time node reads or writes (data of I/O patched per run).
    std::vector<void*> address(graph.valueCapacity(), nullptr);
    std::vector<int64_t> ioIndexOf(graph.valueCapacity(), -1);
    for (size_t i = 0; i < engine.io.size(); ++i) ioIndexOf[static_cast<size_t>(engine.io[i].value->id)] = static_cast<int64_t>(i);

    for (const auto& v : graph.values()) {
        if (!v) continue;
        size_t id = static_cast<size_t>(v->id);
        switch (layout.residence[id]) {
            case Residence::kConstant: address[id] = engine.constantAddress(*v); break;
            case Residence::kFolded: {
                Tensor& value = *infos[id].value;
                if (backend.isHostMemory()) {
                    address[id] = value.data();
                } else {
                    void* p = backend.allocate(value.byteSize());
                    if (!p) return {StatusCode::kOutOfMemory, "out of device memory for folded value '" + v->name + "'"};
                    ctx.foldedDeviceBuffers.push_back(p);
                    KILN_RETURN_IF_ERROR(backend.copyToDevice(p, value.data(), value.byteSize(), nullptr));
                    address[id] = p;
                }
                break;
            }
            case Residence::kInput:
            case Residence::kOutput:
            case Residence::kArena:
            case Residence::kUnused: break;
        }
    }

    // Kernels: reshape at the concrete shapes, then the arena (activations + one shared workspace).
    ctx.steps.clear();
    ctx.bindings.clear();
    size_t workspace = 0;
    for (size_t nodeIndex : layout.runNodes) {
        const Node& node = *graph.nodes()[nodeIndex];
        ContextImpl::Step step;
        step.nodeIndex = nodeIndex;
        auto view = [&](const Value* v) {
            if (!v) return TensorView{};
            const ValueInfo& info = infos[static_cast<size_t>(v->id)];
            return TensorView{info.dtype, toConcrete(info.shape), address[static_cast<size_t>(v->id)],
                              info.value ? info.value->data() : nullptr};
        };
        for (const Value* in : node.inputs) step.inputs.push_back(view(in));
        for (const Value* out : node.outputs) step.outputs.push_back(view(out));
        KILN_RETURN_IF_ERROR(ctx.kernels[nodeIndex]->reshape(step.inputs, step.outputs).withContext(node.describe()));
        workspace = std::max(workspace, ctx.kernels[nodeIndex]->workspaceSize());
        ctx.steps.push_back(std::move(step));
    }
    size_t workspaceOffset = alignUp(layout.arenaBytes, backend.alignment());
    size_t needed = workspaceOffset + workspace;
    if (ctx.arenaCapacity < needed) {
        if (!ctx.arenaOwned)
            return invalidArgument("the device memory given to setDeviceMemory() holds " + std::to_string(ctx.arenaCapacity) +
                                   " bytes; these shapes need " + std::to_string(needed));
        releaseArena(ctx);
        ctx.arena = backend.allocate(needed);
        if (!ctx.arena) return {StatusCode::kOutOfMemory, "out of memory allocating " + std::to_string(needed) + " bytes of activations"};
        ctx.arenaCapacity = needed;
    }
    ctx.workspaceBytes = workspace;

    // Fill arena addresses and record I/O bindings to patch per run.
    auto* arenaBase = static_cast<uint8_t*>(ctx.arena);
    for (size_t s = 0; s < ctx.steps.size(); ++s) {
        const Node& node = *graph.nodes()[ctx.steps[s].nodeIndex];
        auto fill = [&](const std::vector<Value*>& values, std::vector<TensorView>& views, bool isOutput) {
            for (size_t slot = 0; slot < values.size(); ++slot) {
                const Value* v = values[slot];
                if (!v) continue;
                size_t id = static_cast<size_t>(v->id);
                Residence r = layout.residence[id];
                if (r == Residence::kArena) views[slot].data = arenaBase + layout.arenaOffset[id];
                if (r == Residence::kInput || r == Residence::kOutput) {
                    // A relabel of an input is bound to that input's buffer.
                    const size_t io = r == Residence::kInput ? static_cast<size_t>(layout.inputView[id]) : id;
                    ctx.bindings.push_back({s, isOutput, slot, static_cast<size_t>(ioIndexOf[io])});
                }
            }
        };
        fill(node.inputs, ctx.steps[s].inputs, false);
        fill(node.outputs, ctx.steps[s].outputs, true);
    }

    // Outputs that no run-time node writes are copied into the caller's buffer after the run.
    ctx.outputCopies.clear();
    for (size_t i = 0; i < engine.io.size(); ++i) {
        const IOTensor& io = engine.io[i];
        if (io.mode != TensorIOMode::kOUTPUT) continue;
        size_t id = static_cast<size_t>(io.value->id);
        Residence r = layout.residence[id];
        if (r == Residence::kOutput) continue;
        const ValueInfo& info = infos[id];
        size_t bytes = static_cast<size_t>(shapeElementCount(toConcrete(info.shape))) * dataTypeSize(info.dtype);
        ContextImpl::OutputCopy copy{i, address[id], -1, bytes, false};
        if (r == Residence::kInput) copy.sourceIO = ioIndexOf[static_cast<size_t>(layout.inputView[id])];
        ctx.outputCopies.push_back(copy);
    }
    ctx.captureBlocker.clear();
    for (const auto& step : ctx.steps) {
        std::string why;
        if (ctx.kernels[step.nodeIndex]->isCapturable(&why)) continue;
        ctx.captureBlocker = graph.nodes()[step.nodeIndex]->describe() + ": " + why;
        break;
    }
    ctx.infos = std::move(infos);
    ctx.layout = std::move(layout);
    ctx.prepared = true;
    ++ctx.preparation;
    return Status::ok();
}

/// The name a profiler sees: the layer's name in the layer report, or a stand-in for an unnamed node.
std::string profiledLayerName(const Node& node) {
    return node.name.empty() ? node.opType + "_" + std::to_string(node.id) : node.name;
}

/// Runs one kernel and reports its time. Waiting for the kernel before the clock stops makes the
/// time the layer's own on an asynchronous backend too (layers then do not overlap).
Status runProfiled(Kernel& kernel, const KernelIO& io, const Node& node, Backend& backend, IProfiler& profiler) {
    auto start = std::chrono::steady_clock::now();
    KILN_RETURN_IF_ERROR(kernel.run(io).withContext(node.describe()));
    KILN_RETURN_IF_ERROR(backend.synchronize(io.stream).withContext(node.describe()));
    float ms = std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - start).count();
    profiler.reportLayerTime(profiledLayerName(node).c_str(), ms);
    return Status::ok();
}

/// Asks the output allocators (where set) for this run's output buffers; the static plan knows
/// every output's size before running.
Status allocateOutputs(ContextImpl& ctx) {
    EngineImpl& engine = ctx.engine;
    for (size_t i = 0; i < engine.io.size(); ++i) {
        IOutputAllocator* allocator = ctx.outputAllocators[i];
        if (!allocator) continue;
        const IOTensor& io = engine.io[i];
        const ValueInfo& info = ctx.infos[static_cast<size_t>(io.value->id)];
        size_t bytes = static_cast<size_t>(shapeElementCount(toConcrete(info.shape))) * dataTypeSize(info.dtype);
        void* p = allocator->reallocateOutput(io.name.c_str(), ctx.ioAddresses[i], bytes, engine.backend->alignment());
        if (!p && bytes != 0)
            return invalidArgument("the output allocator of '" + io.name + "' gave no buffer for " + std::to_string(bytes) + " bytes");
        ctx.ioAddresses[i] = p;
    }
    return Status::ok();
}

void notifyOutputShapes(ContextImpl& ctx) {
    EngineImpl& engine = ctx.engine;
    for (size_t i = 0; i < engine.io.size(); ++i) {
        IOutputAllocator* allocator = ctx.outputAllocators[i];
        if (!allocator) continue;
        Shape shape = toConcrete(ctx.infos[static_cast<size_t>(engine.io[i].value->id)].shape);
        allocator->notifyShape(engine.io[i].name.c_str(), fromDimsShape(shape));
    }
}

Status run(ContextImpl& ctx, Stream stream) {
    KILN_RETURN_IF_ERROR(prepareForRun(ctx, stream));
    return runPrepared(ctx, stream);
}

}  // namespace

Status prepareForRun(ContextImpl& ctx, Stream stream) {
    EngineImpl& engine = ctx.engine;
    // New contents of a shape-tensor input mean new shapes.
    for (size_t i = 0; ctx.prepared && i < engine.io.size(); ++i) {
        if (ctx.shapeInputValues[i].empty() && !shapeValueRange(ctx, engine.io[i])) continue;
        const Shape shape = toConcrete(ctx.infos[static_cast<size_t>(engine.io[i].value->id)].shape);
        KILN_ASSIGN_OR_RETURN(std::vector<int64_t> now, readShapeInput(ctx, i, shape));
        if (now != ctx.shapeInputValues[i]) ctx.prepared = false;
    }
    if (ctx.prepared) return Status::ok();
    // Said here rather than left to fail inside (a failed allocation would read as out of memory).
    if (engine.backend->isCapturing(stream))
        return unsupported(
            "enqueue: the stream is being captured, but the context must first prepare new shapes, profile or "
            "memory, which allocates: run enqueue() once outside the capture after setInputShape(), "
            "setOptimizationProfile() or setDeviceMemory()");
    return prepare(ctx);
}

Status checkCapturable(const ContextImpl& ctx) {
    if (ctx.profiler)
        return unsupported("a profiler is attached: it waits for each layer to finish, which a capture cannot record");
    if (!ctx.captureBlocker.empty()) return unsupported(ctx.captureBlocker);
    for (size_t i = 0; i < ctx.outputAllocators.size(); ++i)
        if (ctx.outputAllocators[i])
            return unsupported("output '" + ctx.engine.io[i].name +
                               "' has an output allocator, which is asked for a buffer during each run; a replay "
                               "could not ask it: bind the output with setTensorAddress() instead");
    return Status::ok();
}

Status runPrepared(ContextImpl& ctx, Stream stream) {
    EngineImpl& engine = ctx.engine;
    // A capture of a run that cannot be recorded fails with this reason rather than a device error.
    if (Status capturable = checkCapturable(ctx); !capturable && engine.backend->isCapturing(stream))
        return capturable.withContext("enqueue on a stream that is being captured");
    // Strings the previous run made are released: its outputs' views are valid until now.
    ctx.strings.clear();
    ctx.hostValues.clear();
    // Output handles pointed into the store just cleared: a run that fails before writing one
    // leaves it unset rather than dangling.
    for (size_t i = 0; i < engine.io.size(); ++i)
        if (engine.io[i].mode == TensorIOMode::kOUTPUT) ctx.ioHandles[i] = nullptr;
    if (ctx.dataDependent) {
        for (size_t i = 0; i < engine.io.size(); ++i)
            if (engine.io[i].mode == TensorIOMode::kINPUT && !ctx.ioAddresses[i] &&
                shapeElementCount(toConcrete(ctx.preparedInfos[static_cast<size_t>(engine.io[i].value->id)].shape)) != 0)
                return invalidArgument("input '" + engine.io[i].name + "' has no address: call setTensorAddress() before running");
        return runWithDataDependentShapes(ctx, stream);
    }
    KILN_RETURN_IF_ERROR(allocateOutputs(ctx));
    for (size_t i = 0; i < engine.io.size(); ++i) {
        if (!ctx.ioAddresses[i]) {
            const IOTensor& io = engine.io[i];
            // A zero-sized tensor needs no buffer.
            bool empty = ctx.prepared && shapeElementCount(toConcrete(ctx.infos[static_cast<size_t>(io.value->id)].shape)) == 0;
            if (!empty)
                return invalidArgument(std::string(io.mode == TensorIOMode::kINPUT ? "input" : "output") + " '" + io.name +
                                       "' has no address: call setTensorAddress() before running");
        }
    }
    for (const auto& b : ctx.bindings) {
        auto& views = b.isOutput ? ctx.steps[b.step].outputs : ctx.steps[b.step].inputs;
        views[b.slot].data = ctx.ioAddresses[b.ioIndex];
    }
    const Graph& graph = *engine.plan.graph;
    void* workspace = static_cast<uint8_t*>(ctx.arena) + alignUp(ctx.layout.arenaBytes, engine.backend->alignment());
    for (const auto& step : ctx.steps) {
        KernelIO io;
        io.inputs = step.inputs.data();
        io.numInputs = step.inputs.size();
        io.outputs = step.outputs.data();
        io.numOutputs = step.outputs.size();
        io.workspace = workspace;
        io.workspaceBytes = ctx.workspaceBytes;
        io.stream = stream;
        io.strings = &ctx.strings;
        io.hostValues = &ctx.hostValues;
        const Node& node = *graph.nodes()[step.nodeIndex];
        if (ctx.profiler) {
            KILN_RETURN_IF_ERROR(runProfiled(*ctx.kernels[step.nodeIndex], io, node, *engine.backend, *ctx.profiler));
        } else {
            KILN_RETURN_IF_ERROR(ctx.kernels[step.nodeIndex]->run(io).withContext(node.describe()));
        }
    }
    for (const auto& copy : ctx.outputCopies) {
        const void* source = copy.sourceIO >= 0 ? ctx.ioAddresses[static_cast<size_t>(copy.sourceIO)] : copy.source;
        KILN_RETURN_IF_ERROR(engine.backend->copyOnDevice(ctx.ioAddresses[copy.ioIndex], source, copy.bytes, stream));
    }
    notifyOutputShapes(ctx);
    return Status::ok();
}

ContextImpl::~ContextImpl() {
    releaseArena(*this);
    releaseFolded(*this);
}

std::unique_ptr<ExecutionContext> Engine::createExecutionContext() noexcept {
    try {
        auto ctx = std::make_unique<ContextImpl>(*mImpl);
        ctx->inputShapes.resize(mImpl->io.size());
        ctx->inputShapeSet.assign(mImpl->io.size(), false);
        ctx->ioAddresses.assign(mImpl->io.size(), nullptr);
        ctx->shapeInputValues.resize(mImpl->io.size());
        ctx->outputAllocators.assign(mImpl->io.size(), nullptr);
        bindHostValueIO(*ctx);
        for (const auto& node : mImpl->plan.graph->nodes()) {
            auto kernel = mImpl->backend->createKernel(*node);
            if (!kernel) {
                mImpl->log.error(kernel.status().message());
                return nullptr;
            }
            ctx->kernels.push_back(std::move(kernel).value());
        }
        return std::unique_ptr<ExecutionContext>(new ExecutionContext(*this, std::move(ctx)));
    } catch (const std::exception& e) {
        mImpl->log.error(std::string("createExecutionContext: ") + e.what());
        return nullptr;
    }
}

std::unique_ptr<ExecutionContext> Engine::createExecutionContextWithoutDeviceMemory() noexcept {
    auto ctx = createExecutionContext();
    if (ctx) ctx->mImpl->arenaOwned = false;
    return ctx;
}

ExecutionContext::ExecutionContext(Engine& engine, std::unique_ptr<ContextImpl> impl)
    : mEngine(engine), mImpl(std::move(impl)) {}
ExecutionContext::~ExecutionContext() = default;

bool ExecutionContext::setOptimizationProfile(int32_t profileIndex) noexcept {
    if (profileIndex < 0 || profileIndex >= mEngine.getNbOptimizationProfiles()) {
        mImpl->engine.log.error("setOptimizationProfile: profile " + std::to_string(profileIndex) + " does not exist (engine has " +
                                std::to_string(mEngine.getNbOptimizationProfiles()) + ")");
        return false;
    }
    mImpl->profile = profileIndex;
    mImpl->prepared = false;
    return true;
}

int32_t ExecutionContext::getOptimizationProfile() const noexcept { return mImpl->profile; }

bool ExecutionContext::setInputShape(const char* name, const Dims& dims) noexcept {
    return guarded(mImpl->engine.log, "setInputShape", [&]() -> Status {
        const IOTensor* io = mImpl->engine.findIO(name);
        if (!io || io->mode != TensorIOMode::kINPUT)
            return invalidArgument(std::string("setInputShape: '") + (name ? name : "") + "' is not an input of this engine");
        Shape shape = fromDims(dims);
        KILN_RETURN_IF_ERROR(checkInputShape(mImpl->engine, mImpl->profile, *io, shape));
        size_t index = static_cast<size_t>(io - mImpl->engine.io.data());
        if (!mImpl->inputShapeSet[index] || mImpl->inputShapes[index] != shape) mImpl->prepared = false;
        mImpl->inputShapes[index] = shape;
        mImpl->inputShapeSet[index] = true;
        return Status::ok();
    });
}

Dims ExecutionContext::getTensorShape(const char* name) const noexcept {
    const IOTensor* io = mImpl->engine.findIO(name);
    if (!io) {
        Dims d;
        d.nbDims = -1;
        return d;
    }
    size_t index = static_cast<size_t>(io - mImpl->engine.io.data());
    if (io->mode == TensorIOMode::kINPUT && mImpl->inputShapeSet[index]) {
        Dims d;
        d.nbDims = static_cast<int32_t>(mImpl->inputShapes[index].size());
        for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = mImpl->inputShapes[index][static_cast<size_t>(i)];
        return d;
    }
    if (!mImpl->prepared && allInputDimensionsSpecified()) {
        Status s = prepare(*mImpl);
        if (!s) mImpl->engine.log.error(s.message());
    }
    const SymShape* shape = &io->value->shape;
    if (mImpl->prepared) shape = &mImpl->infos[static_cast<size_t>(io->value->id)].shape;
    Dims d;
    d.nbDims = static_cast<int32_t>(std::min<size_t>(shape->size(), kMaxDims));
    for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = (*shape)[static_cast<size_t>(i)].value;
    return d;
}

bool ExecutionContext::hasDataDependentShape(const char* name) const noexcept {
    const IOTensor* io = mImpl->engine.findIO(name);
    if (!io || io->mode != TensorIOMode::kOUTPUT || !allInputDimensionsSpecified()) return false;
    if (!mImpl->prepared) {
        Status s = prepare(*mImpl);
        if (!s) {
            mImpl->engine.log.error(s.message());
            return false;
        }
    }
    // Only a context that runs node by node has outputs sized by the run; their prepared shapes keep
    // the unknown extents (getTensorShape reports the last run's).
    return mImpl->dataDependent &&
           !isFullyKnown(mImpl->preparedInfos[static_cast<size_t>(io->value->id)].shape);
}

bool ExecutionContext::allInputDimensionsSpecified() const noexcept {
    const auto& io = mImpl->engine.io;
    for (size_t i = 0; i < io.size(); ++i) {
        if (io[i].mode != TensorIOMode::kINPUT) continue;
        if (!mImpl->inputShapeSet[i] && !isFullyKnown(io[i].value->shape)) return false;
    }
    return true;
}

bool ExecutionContext::setTensorAddress(const char* name, void* address) noexcept {
    const IOTensor* io = mImpl->engine.findIO(name);
    if (!io) {
        mImpl->engine.log.error(std::string("setTensorAddress: '") + (name ? name : "") + "' is not an input or output of this engine");
        return false;
    }
    if (!io->value->container.isTensor()) {
        mImpl->engine.log.error(std::string("setTensorAddress: '") + name + "' is a " +
                                containerTypeName(io->value->container) +
                                ", not a tensor: use setInputSequence() / setInputOptional() or getOutputValue()");
        return false;
    }
    mImpl->ioAddresses[static_cast<size_t>(io - mImpl->engine.io.data())] = address;
    return true;
}

bool ExecutionContext::setOutputAllocator(const char* name, IOutputAllocator* allocator) noexcept {
    const IOTensor* io = mImpl->engine.findIO(name);
    if (!io || io->mode != TensorIOMode::kOUTPUT) {
        mImpl->engine.log.error(std::string("setOutputAllocator: '") + (name ? name : "") + "' is not an output of this engine");
        return false;
    }
    mImpl->outputAllocators[static_cast<size_t>(io - mImpl->engine.io.data())] = allocator;
    return true;
}

IOutputAllocator* ExecutionContext::getOutputAllocator(const char* name) const noexcept {
    const IOTensor* io = mImpl->engine.findIO(name);
    return io && io->mode == TensorIOMode::kOUTPUT ? mImpl->outputAllocators[static_cast<size_t>(io - mImpl->engine.io.data())] : nullptr;
}

const void* ExecutionContext::getTensorAddress(const char* name) const noexcept {
    const IOTensor* io = mImpl->engine.findIO(name);
    return io ? mImpl->ioAddresses[static_cast<size_t>(io - mImpl->engine.io.data())] : nullptr;
}

bool ExecutionContext::enqueue(Stream stream) noexcept {
    RunGuard guard(mImpl->running);
    if (!guard.acquired()) {
        mImpl->engine.log.error("enqueue: this execution context is already running; use one context per concurrent inference");
        return false;
    }
    return guarded(mImpl->engine.log, "enqueue", [&] { return run(*mImpl, stream); });
}

bool ExecutionContext::execute() noexcept {
    if (!enqueue(nullptr)) return false;
    return guarded(mImpl->engine.log, "execute", [&] { return mImpl->engine.backend->synchronize(nullptr); });
}

void ExecutionContext::setProfiler(IProfiler* profiler) noexcept { mImpl->profiler = profiler; }

IProfiler* ExecutionContext::getProfiler() const noexcept { return mImpl->profiler; }

bool ExecutionContext::setDeviceMemory(void* memory, size_t bytes) noexcept {
    if (!memory) {
        mImpl->engine.log.error("setDeviceMemory: memory is null");
        return false;
    }
    if (mImpl->arenaOwned) releaseArena(*mImpl);
    mImpl->arena = memory;
    mImpl->arenaCapacity = bytes;
    mImpl->arenaOwned = false;
    mImpl->prepared = false;
    return true;
}

}  // namespace kiln
