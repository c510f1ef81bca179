#include "runtime/data_dependent_run.h"

#include <algorithm>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"

namespace kiln {

namespace {

/// Backend buffers of one run, released when the run ends however it ends.
class RunBuffers {
public:
    explicit RunBuffers(Backend& backend) : mBackend(backend) {}
    RunBuffers(const RunBuffers&) = delete;
    RunBuffers& operator=(const RunBuffers&) = delete;
    ~RunBuffers() {
        for (void* p : mBuffers) mBackend.deallocate(p);
    }
    /// At least one aligned unit, so that an empty tensor still has a distinct address.
    Expected<void*> allocate(size_t bytes, const std::string& what) {
        void* p = mBackend.allocate(std::max(bytes, mBackend.alignment()));
        if (!p) return Status{StatusCode::kOutOfMemory, "out of memory allocating " + std::to_string(bytes) + " bytes for " + what};
        mBuffers.push_back(p);
        return p;
    }
    void release(void* p) {
        auto it = std::find(mBuffers.begin(), mBuffers.end(), p);
        if (it == mBuffers.end()) return;
        mBackend.deallocate(p);
        mBuffers.erase(it);
    }

private:
    Backend& mBackend;
    std::vector<void*> mBuffers;
};

size_t byteSizeOf(const ValueInfo& info) {
    return static_cast<size_t>(shapeElementCount(toConcrete(info.shape))) * dataTypeSize(info.dtype);
}

Dims dimsOf(const Shape& shape) {
    Dims d;
    d.nbDims = static_cast<int32_t>(std::min<size_t>(shape.size(), kMaxDims));
    for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = shape[static_cast<size_t>(i)];
    return d;
}

bool allOutputsFolded(const Node& node, const std::vector<ValueInfo>& infos) {
    for (const Value* out : node.outputs)
        if (out && !infos[static_cast<size_t>(out->id)].value) return false;
    return true;
}

/// Inference of a node whose output shape follows from the *values* of small inputs computed in
/// this run (Reshape's shape, Resize's sizes, TopK's k, Range's limits, ...): those inputs are
/// read back to the host and the node is inferred again, knowing them.
Status inferWithInputValues(const Node& node, std::vector<ValueInfo>& infos, const std::vector<void*>& address, Backend& backend,
                            const ShapeInferenceOptions& options, Stream stream) {
    std::vector<ValueInfo> local = infos;
    for (const Value* in : node.inputs) {
        if (!in) continue;
        ValueInfo& info = local[static_cast<size_t>(in->id)];
        if (info.value) continue;
        Shape shape = toConcrete(info.shape);
        if (shapeElementCount(shape) > options.maxPropagatedElements) continue;
        Tensor value = Tensor::allocate(info.dtype, shape);
        if (value.byteSize() != 0)
            KILN_RETURN_IF_ERROR(backend.copyToHost(value.data(), address[static_cast<size_t>(in->id)], value.byteSize(), stream));
        info.value = std::move(value);
    }
    KILN_RETURN_IF_ERROR(backend.synchronize(stream));
    KILN_RETURN_IF_ERROR(inferNode(node, local, options));
    for (const Value* out : node.outputs) {
        if (!out) continue;
        ValueInfo& info = local[static_cast<size_t>(out->id)];
        if (!isFullyKnown(info.shape))
            return unsupported(node.describe() + ": output '" + out->name + "' has shape " + symShapeToString(info.shape) +
                               " even with its inputs' values known");
        infos[static_cast<size_t>(out->id)] = std::move(info);
    }
    return Status::ok();
}

}  // namespace

const Node* firstDataDependentNode(const Graph& graph, const std::vector<ValueInfo>& infos) {
    for (const auto& node : graph.nodes())
        for (const Value* out : node->outputs)
            if (out && !isFullyKnown(infos[static_cast<size_t>(out->id)].shape)) return node.get();
    return nullptr;
}

bool hasDataDependentShapes(const Graph& graph, const std::vector<ValueInfo>& infos) {
    return firstDataDependentNode(graph, infos) != nullptr;
}

Status runWithDataDependentShapes(ContextImpl& ctx, Stream stream) {
    EngineImpl& engine = ctx.engine;
    const Graph& graph = *engine.plan.graph;
    Backend& backend = *engine.backend;
    const auto& nodes = graph.nodes();

    std::vector<ValueInfo> infos = ctx.preparedInfos;
    std::vector<void*> address(graph.valueCapacity(), nullptr);
    std::vector<bool> isGraphOutput(graph.valueCapacity(), false);
    for (const Value* out : graph.outputs()) isGraphOutput[static_cast<size_t>(out->id)] = true;
    for (const auto& v : graph.values())
        if (v && v->isConstant()) address[static_cast<size_t>(v->id)] = engine.constantAddress(*v);
    for (size_t i = 0; i < engine.io.size(); ++i)
        if (engine.io[i].mode == TensorIOMode::kINPUT) address[static_cast<size_t>(engine.io[i].value->id)] = ctx.ioAddresses[i];

    // The last node reading each value: intermediates are released after it.
    std::vector<size_t> lastReader(graph.valueCapacity(), 0);
    for (size_t n = 0; n < nodes.size(); ++n)
        for (const Value* in : nodes[n]->inputs)
            if (in) lastReader[static_cast<size_t>(in->id)] = n;

    RunBuffers buffers(backend);
    void* workspace = nullptr;
    size_t workspaceBytes = 0;
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;

    // A value known on the host (folded while preparing or now): its bytes in backend memory.
    auto placeFolded = [&](const Value* v) -> Status {
        Tensor& value = *infos[static_cast<size_t>(v->id)].value;
        if (backend.isHostMemory()) {
            address[static_cast<size_t>(v->id)] = value.data();
            return Status::ok();
        }
        KILN_ASSIGN_OR_RETURN(void* p, buffers.allocate(value.byteSize(), "folded value '" + v->name + "'"));
        KILN_RETURN_IF_ERROR(backend.copyToDevice(p, value.data(), value.byteSize(), stream));
        address[static_cast<size_t>(v->id)] = p;
        return Status::ok();
    };

    for (size_t n = 0; n < nodes.size(); ++n) {
        const Node& node = *nodes[n];
        // Inference at this run's shapes (inputs downstream of a data-dependent node are concrete now).
        KILN_RETURN_IF_ERROR(inferNode(node, infos, options));
        if (allOutputsFolded(node, infos)) {
            for (const Value* out : node.outputs)
                if (out) KILN_RETURN_IF_ERROR(placeFolded(out));
            continue;
        }

        std::vector<TensorView> ins, outs;
        for (const Value* in : node.inputs) {
            if (!in) {
                ins.emplace_back();
                continue;
            }
            const ValueInfo& info = infos[static_cast<size_t>(in->id)];
            ins.push_back({info.dtype, toConcrete(info.shape), address[static_cast<size_t>(in->id)],
                           info.value ? info.value->data() : nullptr});
        }
        Kernel& kernel = *ctx.kernels[n];
        KernelIO io;
        io.inputs = ins.data();
        io.numInputs = ins.size();
        io.stream = stream;
        io.strings = &ctx.strings;
        io.hostValues = &ctx.hostValues;

        bool shapesKnown = true;
        for (const Value* out : node.outputs)
            if (out && !isFullyKnown(infos[static_cast<size_t>(out->id)].shape)) shapesKnown = false;
        if (!shapesKnown) {
            KILN_RETURN_IF_ERROR(backend.synchronize(stream));
            const OpSchema* schema = OpRegistry::global().find(node.domain, node.opType);
            if (schema && schema->dataDependentShape) {
                auto shapes = kernel.computeOutputShapes(io);
                if (!shapes) return shapes.status().withContext(node.describe());
                if (shapes->size() != node.outputs.size())
                    return internalError(node.describe() + ": the kernel reported " + std::to_string(shapes->size()) +
                                         " output shapes for " + std::to_string(node.outputs.size()) + " outputs");
                for (size_t i = 0; i < node.outputs.size(); ++i)
                    if (node.outputs[i]) infos[static_cast<size_t>(node.outputs[i]->id)].shape = fromConcrete((*shapes)[i]);
            } else {
                KILN_RETURN_IF_ERROR(inferWithInputValues(node, infos, address, backend, options, stream));
                if (allOutputsFolded(node, infos)) {
                    for (const Value* out : node.outputs)
                        if (out) KILN_RETURN_IF_ERROR(placeFolded(out));
                    continue;
                }
            }
        }
        for (const Value* out : node.outputs) {
            if (!out) {
                outs.emplace_back();
                continue;
            }
            const ValueInfo& info = infos[static_cast<size_t>(out->id)];
            KILN_ASSIGN_OR_RETURN(void* p, buffers.allocate(byteSizeOf(info), "'" + out->name + "'"));
            address[static_cast<size_t>(out->id)] = p;
            outs.push_back({info.dtype, toConcrete(info.shape), p});
        }
        KILN_RETURN_IF_ERROR(kernel.reshape(ins, outs).withContext(node.describe()));
        if (kernel.workspaceSize() > workspaceBytes) {
            if (workspace) buffers.release(workspace);
            KILN_ASSIGN_OR_RETURN(workspace, buffers.allocate(kernel.workspaceSize(), "kernel workspace"));
            workspaceBytes = kernel.workspaceSize();
        }
        io.outputs = outs.data();
        io.numOutputs = outs.size();
        io.workspace = workspace;
        io.workspaceBytes = workspaceBytes;
        KILN_RETURN_IF_ERROR(kernel.run(io).withContext(node.describe()));

        for (const Value* in : node.inputs) {
            if (!in || lastReader[static_cast<size_t>(in->id)] != n || isGraphOutput[static_cast<size_t>(in->id)]) continue;
            buffers.release(address[static_cast<size_t>(in->id)]);
        }
    }

    // Graph outputs into the caller's buffers.
    for (size_t i = 0; i < engine.io.size(); ++i) {
        const IOTensor& io = engine.io[i];
        if (io.mode != TensorIOMode::kOUTPUT) continue;
        size_t id = static_cast<size_t>(io.value->id);
        const ValueInfo& info = infos[id];
        size_t bytes = byteSizeOf(info);
        void* destination = ctx.ioAddresses[i];
        IOutputAllocator* allocator = ctx.outputAllocators[i];
        if (allocator) {
            destination = allocator->reallocateOutput(io.name.c_str(), destination, bytes, backend.alignment());
            if (!destination && bytes != 0)
                return invalidArgument("the output allocator of '" + io.name + "' gave no buffer for " + std::to_string(bytes) + " bytes");
            ctx.ioAddresses[i] = destination;
        } else if (!isFullyKnown(ctx.preparedInfos[id].shape)) {
            return invalidArgument("output '" + io.name + "' has a data-dependent shape, known only during the run: "
                                   "give it an output allocator (ExecutionContext::setOutputAllocator)");
        } else if (!destination && bytes != 0) {
            return invalidArgument("output '" + io.name + "' has no address: call setTensorAddress() before running");
        }
        if (bytes != 0) KILN_RETURN_IF_ERROR(backend.copyOnDevice(destination, address[id], bytes, stream));
        if (allocator) allocator->notifyShape(io.name.c_str(), dimsOf(toConcrete(info.shape)));
    }
    KILN_RETURN_IF_ERROR(backend.synchronize(stream));
    ctx.infos = std::move(infos);
    return Status::ok();
}

}  // namespace kiln
