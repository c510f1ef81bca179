#include "backends/subgraph_executor.h"

#include "ir/shape_inference.h"

namespace kiln {

BackendBuffer::BackendBuffer(Backend& backend, size_t bytes)
    : mBackend(&backend), mData(backend.allocate(bytes)), mBytes(mData ? bytes : 0) {}

BackendBuffer& BackendBuffer::operator=(BackendBuffer&& other) noexcept {
    if (this == &other) return *this;
    release();
    mBackend = other.mBackend;
    mData = other.mData;
    mBytes = other.mBytes;
    other.mData = nullptr;
    other.mBytes = 0;
    return *this;
}

void BackendBuffer::release() {
    if (mBackend && mData) mBackend->deallocate(mData);
    mData = nullptr;
    mBytes = 0;
}

Status BackendTensor::reset(Backend& backend, DataType type, const Shape& newShape, const std::string& what) {
    const size_t bytes = static_cast<size_t>(shapeElementCount(newShape)) * dataTypeSize(type);
    if (!buffer.data() || buffer.bytes() != bytes) {
        buffer = BackendBuffer(backend, bytes);
        if (!buffer.data())
            return {StatusCode::kOutOfMemory, "out of " + backend.name() + " memory allocating " + std::to_string(bytes) +
                                                  " bytes for " + what};
    }
    dtype = type;
    shape = newShape;
    return Status::ok();
}

Expected<BackendTensor> copyToBackendTensor(Backend& backend, const TensorView& view, Stream stream) {
    BackendTensor t;
    KILN_RETURN_IF_ERROR(t.reset(backend, view.dtype, view.shape, "a copy of a loop value"));
    KILN_RETURN_IF_ERROR(backend.copyOnDevice(t.buffer.data(), view.data, view.byteSize(), stream));
    return t;
}

SubgraphExecutor::SubgraphExecutor(Backend& backend, std::shared_ptr<const Graph> graph, std::string scope)
    : mBackend(backend), mGraph(std::move(graph)), mScope(std::move(scope)) {}

bool SubgraphExecutor::supports(const Graph& graph, const NodeSupport& nodeSupported, std::string* reason) {
    for (const auto& node : graph.nodes()) {
        std::string why;
        if (nodeSupported(*node, &why)) continue;
        if (reason) *reason = "subgraph '" + graph.name + "': " + node->describe() + ": " + (why.empty() ? "not supported" : why);
        return false;
    }
    return true;
}

Expected<std::unique_ptr<SubgraphExecutor>> SubgraphExecutor::create(Backend& backend, std::shared_ptr<const Graph> graph,
                                                                      std::string scope) {
    std::unique_ptr<SubgraphExecutor> executor(new SubgraphExecutor(backend, std::move(graph), std::move(scope)));
    const Graph& g = *executor->mGraph;
    for (const auto& node : g.nodes()) {
        Expected<std::unique_ptr<Kernel>> kernel = backend.createKernel(*node);
        if (!kernel) return Status(kernel.status().code(), "in " + executor->mScope + ": " + kernel.status().message());
        executor->mKernels.push_back(std::move(kernel).value());
    }
    executor->mInfos = initialValueInfos(g);
    executor->mViews.resize(g.valueCapacity());
    executor->mStorage.resize(g.valueCapacity());
    executor->mReshapedWith.resize(g.nodes().size());
    for (const auto& v : g.values()) {
        if (!v || !v->isConstant()) continue;
        const size_t id = static_cast<size_t>(v->id);
        TensorView view = viewOf(*v->constant);
        view.hostData = v->constant->data();
        if (!backend.isHostMemory()) {
            BackendTensor& copy = executor->mStorage[id];
            KILN_RETURN_IF_ERROR(copy.reset(backend, view.dtype, view.shape, "constant '" + v->name + "' of " + executor->mScope));
            KILN_RETURN_IF_ERROR(backend.copyToDevice(copy.buffer.data(), view.hostData, view.byteSize(), nullptr));
            view.data = copy.buffer.data();
        }
        executor->mViews[id] = view;
    }
    // The constants' copies are complete before any stream of a run reads them.
    KILN_RETURN_IF_ERROR(backend.synchronize(nullptr));
    return executor;
}

ValueInfo SubgraphExecutor::infoOf(const TensorView& view, const ContainerType& container) const {
    ValueInfo info;
    info.container = container;
    info.dtype = view.dtype;
    info.shape = fromConcrete(view.shape);
    info.known = true;
    // The value is the data itself (no copy): inference of shape-reading ops (Reshape, Expand,
    // Slice, ...) inside the body then sees the numbers this run computed.
    // A sequence's or optional's handle is no number that inference could compute with.
    if (mBackend.isHostMemory() && container.isTensor()) info.value = Tensor::wrap(view.dtype, view.shape, view.data, nullptr);
    return info;
}

Expected<std::vector<TensorView>> SubgraphExecutor::run(const std::vector<TensorView>& inputs, Stream stream,
                                                        StringArena* strings, HostValueStore* hostValues) {
    const Graph& g = *mGraph;
    if (inputs.size() != g.inputs().size())
        return internalError("in " + mScope + ": " + std::to_string(inputs.size()) + " inputs bound to a subgraph of " +
                             std::to_string(g.inputs().size()));
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Value* in = g.inputs()[i];
        if (in->typeKnown && in->dtype != inputs[i].dtype)  // a handle is kHandleType, as its subgraph input is
            return invalidArgument("in " + mScope + ": input '" + in->name + "' is " + dataTypeName(in->dtype) +
                                   " but receives " + dataTypeName(inputs[i].dtype));
        // Host contents of an input are those of the outer run's prepare; a body input changes
        // between iterations, so kernels read it from memory.
        TensorView view = inputs[i];
        view.hostData = nullptr;
        mViews[static_cast<size_t>(in->id)] = view;
        mInfos[static_cast<size_t>(in->id)] = infoOf(view, in->container);
    }
    for (size_t i = 0; i < g.nodes().size(); ++i) KILN_RETURN_IF_ERROR(runNode(i, stream, strings, hostValues));
    std::vector<TensorView> outputs;
    for (const Value* out : g.outputs()) outputs.push_back(mViews[static_cast<size_t>(out->id)]);
    return outputs;
}

Status SubgraphExecutor::learnUnknownShapes(const Node& node, Kernel& kernel, const std::vector<TensorView>& inputs,
                                            Stream stream) {
    auto allKnown = [&] {
        for (const Value* out : node.outputs)
            if (out && !isFullyKnown(mInfos[static_cast<size_t>(out->id)].shape)) return false;
        return true;
    };
    if (allKnown()) return Status::ok();
    const OpSchema* schema = OpRegistry::global().find(node.domain, node.opType);
    if (schema && schema->dataDependentShape) {
        KernelIO io;
        io.inputs = inputs.data();
        io.numInputs = inputs.size();
        io.stream = stream;
        auto shapes = kernel.computeOutputShapes(io);
        if (!shapes) return shapes.status().withContext("in " + mScope + ": " + node.describe());
        if (shapes->size() != node.outputs.size())
            return internalError("in " + mScope + ": " + node.describe() + ": the kernel reported " +
                                 std::to_string(shapes->size()) + " output shapes for " +
                                 std::to_string(node.outputs.size()) + " outputs");
        for (size_t i = 0; i < node.outputs.size(); ++i)
            if (node.outputs[i]) mInfos[static_cast<size_t>(node.outputs[i]->id)].shape = fromConcrete((*shapes)[i]);
        return Status::ok();
    }
    if (mBackend.isHostMemory()) return Status::ok();  // inference saw every value already
    // Shapes computed from small inputs (Reshape's shape, Slice's starts, ...): read them back.
    const int64_t maxElements = ShapeInferenceOptions{}.maxPropagatedElements;
    bool read = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
        const Value* in = node.inputs[i];
        if (!in) continue;
        ValueInfo& info = mInfos[static_cast<size_t>(in->id)];
        if (info.value || inputs[i].elementCount() > maxElements) continue;
        Tensor value = Tensor::allocate(inputs[i].dtype, inputs[i].shape);
        KILN_RETURN_IF_ERROR(mBackend.copyToHost(value.data(), inputs[i].data, value.byteSize(), stream));
        info.value = std::move(value);
        read = true;
    }
    if (!read) return Status::ok();
    KILN_RETURN_IF_ERROR(mBackend.synchronize(stream).withContext("in " + mScope + ": " + node.describe()));
    return inferNode(node, mInfos, ShapeInferenceOptions{}).withContext("in " + mScope);
}

Status SubgraphExecutor::runNode(size_t index, Stream stream, StringArena* strings, HostValueStore* hostValues) {
    const Node& node = *mGraph->nodes()[index];
    KILN_RETURN_IF_ERROR(inferNode(node, mInfos, ShapeInferenceOptions{}).withContext("in " + mScope));
    std::vector<TensorView> inViews, outViews;
    std::vector<Shape> shapes;
    for (const Value* in : node.inputs) {
        inViews.push_back(in ? mViews[static_cast<size_t>(in->id)] : TensorView{});
        shapes.push_back(inViews.back().shape);
    }
    Kernel& kernel = *mKernels[index];
    KILN_RETURN_IF_ERROR(learnUnknownShapes(node, kernel, inViews, stream));
    for (const Value* out : node.outputs) {
        if (!out) {
            outViews.emplace_back();
            shapes.emplace_back();
            continue;
        }
        const size_t id = static_cast<size_t>(out->id);
        const ValueInfo& info = mInfos[id];
        if (!isFullyKnown(info.shape))
            return unsupported("in " + mScope + ": " + node.describe() + ": output '" + out->name + "' has shape " +
                               symShapeToString(info.shape) + " that is known only after running (data-dependent)");
        const Shape shape = toConcrete(info.shape);
        KILN_RETURN_IF_ERROR(mStorage[id].reset(mBackend, info.dtype, shape, "'" + out->name + "' in " + mScope));
        mViews[id] = mStorage[id].view();
        outViews.push_back(mViews[id]);
        shapes.push_back(shape);
    }
    if (shapes != mReshapedWith[index]) {
        KILN_RETURN_IF_ERROR(kernel.reshape(inViews, outViews).withContext("in " + mScope + ": " + node.describe()));
        mReshapedWith[index] = shapes;
    }
    const size_t workspace = kernel.workspaceSize();
    if (mWorkspace.bytes() < workspace || !mWorkspace.data()) {
        mWorkspace = BackendBuffer(mBackend, workspace);
        if (!mWorkspace.data())
            return {StatusCode::kOutOfMemory, "in " + mScope + ": out of memory allocating " + std::to_string(workspace) +
                                                  " bytes of workspace for " + node.describe()};
    }
    KernelIO io;
    io.inputs = inViews.data();
    io.numInputs = inViews.size();
    io.outputs = outViews.data();
    io.numOutputs = outViews.size();
    io.workspace = mWorkspace.data();
    io.workspaceBytes = mWorkspace.bytes();
    io.stream = stream;
    io.strings = strings;
    io.hostValues = hostValues;
    KILN_RETURN_IF_ERROR(kernel.run(io).withContext("in " + mScope + ": " + node.describe()));
    // On the host the outputs' values are their data; on a device inference's own values stay.
    if (mBackend.isHostMemory())
        for (const Value* out : node.outputs)
            if (out) {
                ValueInfo& info = mInfos[static_cast<size_t>(out->id)];
                info = infoOf(mViews[static_cast<size_t>(out->id)], info.container);
            }
    return Status::ok();
}

}  // namespace kiln
