#include "backends/cpu/subgraph_executor.h"

#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "ir/shape_inference.h"

namespace kiln::cpu {

namespace {

ValueInfo infoOf(const TensorView& view) {
    ValueInfo info;
    info.dtype = view.dtype;
    info.shape = fromConcrete(view.shape);
    info.known = true;
    // The value is the data itself (no copy): inference of shape-reading ops (Reshape, Expand,
    // Slice, ...) inside the body then sees the numbers this run computed.
    info.value = Tensor::wrap(view.dtype, view.shape, view.data, nullptr);
    return info;
}

}  // namespace

Tensor copyOfView(const TensorView& view) {
    Tensor t = Tensor::allocate(view.dtype, view.shape);
    if (view.byteSize()) std::memcpy(t.data(), view.data, view.byteSize());
    return t;
}

SubgraphExecutor::SubgraphExecutor(std::shared_ptr<const Graph> graph, std::string scope)
    : mGraph(std::move(graph)), mScope(std::move(scope)) {}

bool SubgraphExecutor::supports(const Graph& graph, std::string* reason) {
    for (const auto& node : graph.nodes()) {
        const CpuKernelEntry* entry = CpuKernelRegistry::global().find(*node);
        std::string why;
        if (!entry) why = "no CPU kernel for " + CpuKernelRegistry::qualifiedName(node->domain, node->opType);
        else if ((!lowBitTypesSupported(*entry, *node, &why) || (entry->supports && !entry->supports(*node, &why))) &&
                 why.empty())
            why = "not supported";
        if (!why.empty()) {
            if (reason) *reason = "subgraph '" + graph.name + "': " + node->describe() + ": " + why;
            return false;
        }
    }
    return true;
}

Expected<std::unique_ptr<SubgraphExecutor>> SubgraphExecutor::create(std::shared_ptr<const Graph> graph, std::string scope) {
    std::unique_ptr<SubgraphExecutor> executor(new SubgraphExecutor(std::move(graph), std::move(scope)));
    const Graph& g = *executor->mGraph;
    for (const auto& node : g.nodes()) {
        const CpuKernelEntry* entry = CpuKernelRegistry::global().find(*node);
        std::string why;
        if (!entry || !lowBitTypesSupported(*entry, *node, &why) || (entry->supports && !entry->supports(*node, &why)))
            return unsupported("in " + executor->mScope + ": " + node->describe() + ": " +
                               (entry ? why : "no CPU kernel for this op"));
        Expected<std::unique_ptr<Kernel>> kernel = entry->create(*node);
        if (!kernel) return Status(kernel.status().code(), "in " + executor->mScope + ": " + kernel.status().message());
        executor->mKernels.push_back(std::move(kernel).value());
    }
    executor->mInfos = initialValueInfos(g);
    executor->mViews.resize(g.valueCapacity());
    executor->mStorage.resize(g.valueCapacity());
    executor->mReshapedWith.resize(g.nodes().size());
    for (const auto& v : g.values())
        if (v && v->isConstant()) executor->mViews[static_cast<size_t>(v->id)] = viewOf(*v->constant);
    return executor;
}

Expected<std::vector<TensorView>> SubgraphExecutor::run(const std::vector<TensorView>& inputs) {
    const Graph& g = *mGraph;
    if (inputs.size() != g.inputs().size())
        return internalError("in " + mScope + ": " + std::to_string(inputs.size()) + " inputs bound to a subgraph of " +
                             std::to_string(g.inputs().size()));
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Value* in = g.inputs()[i];
        if (in->typeKnown && in->dtype != inputs[i].dtype)
            return invalidArgument("in " + mScope + ": input '" + in->name + "' is " + dataTypeName(in->dtype) +
                                   " but receives " + dataTypeName(inputs[i].dtype));
        mViews[static_cast<size_t>(in->id)] = inputs[i];
        mInfos[static_cast<size_t>(in->id)] = infoOf(inputs[i]);
    }
    for (size_t i = 0; i < g.nodes().size(); ++i) KILN_RETURN_IF_ERROR(runNode(i));
    std::vector<TensorView> outputs;
    for (const Value* out : g.outputs()) outputs.push_back(mViews[static_cast<size_t>(out->id)]);
    return outputs;
}

Status SubgraphExecutor::learnDataDependentShapes(const Node& node, Kernel& kernel, const std::vector<TensorView>& inputs) {
    bool known = true;
    for (const Value* out : node.outputs)
        if (out && !isFullyKnown(mInfos[static_cast<size_t>(out->id)].shape)) known = false;
    const OpSchema* schema = OpRegistry::global().find(node.domain, node.opType);
    if (known || !schema || !schema->dataDependentShape) return Status::ok();
    KernelIO io;
    io.inputs = inputs.data();
    io.numInputs = inputs.size();
    auto shapes = kernel.computeOutputShapes(io);
    if (!shapes) return shapes.status().withContext("in " + mScope + ": " + node.describe());
    if (shapes->size() != node.outputs.size())
        return internalError("in " + mScope + ": " + node.describe() + ": the kernel reported " +
                             std::to_string(shapes->size()) + " output shapes for " + std::to_string(node.outputs.size()) +
                             " outputs");
    for (size_t i = 0; i < node.outputs.size(); ++i)
        if (node.outputs[i]) mInfos[static_cast<size_t>(node.outputs[i]->id)].shape = fromConcrete((*shapes)[i]);
    return Status::ok();
}

Status SubgraphExecutor::runNode(size_t index) {
    const Node& node = *mGraph->nodes()[index];
    KILN_RETURN_IF_ERROR(inferNode(node, mInfos, ShapeInferenceOptions{}).withContext("in " + mScope));
    std::vector<TensorView> inViews, outViews;
    std::vector<Shape> shapes;
    for (const Value* in : node.inputs) {
        inViews.push_back(in ? mViews[static_cast<size_t>(in->id)] : TensorView{});
        shapes.push_back(inViews.back().shape);
    }
    Kernel& kernel = *mKernels[index];
    KILN_RETURN_IF_ERROR(learnDataDependentShapes(node, kernel, inViews));
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
        Tensor& storage = mStorage[id];
        if (storage.dtype() != info.dtype || storage.shape() != shape || !storage.data())
            storage = Tensor::allocate(info.dtype, shape);
        mViews[id] = viewOf(storage);
        outViews.push_back(mViews[id]);
        shapes.push_back(shape);
    }
    if (shapes != mReshapedWith[index]) {
        KILN_RETURN_IF_ERROR(kernel.reshape(inViews, outViews).withContext("in " + mScope + ": " + node.describe()));
        mReshapedWith[index] = shapes;
    }
    const size_t workspace = kernel.workspaceSize();
    if (static_cast<size_t>(mWorkspace.elementCount()) < workspace)
        mWorkspace = Tensor::allocate(DataType::kUINT8, {static_cast<int64_t>(workspace)});
    KernelIO io;
    io.inputs = inViews.data();
    io.numInputs = inViews.size();
    io.outputs = outViews.data();
    io.numOutputs = outViews.size();
    io.workspace = mWorkspace.data();
    io.workspaceBytes = static_cast<size_t>(mWorkspace.elementCount());
    KILN_RETURN_IF_ERROR(kernel.run(io).withContext("in " + mScope + ": " + node.describe()));
    for (const Value* out : node.outputs)
        if (out) mInfos[static_cast<size_t>(out->id)] = infoOf(mViews[static_cast<size_t>(out->id)]);
    return Status::ok();
}

}  // namespace kiln::cpu
