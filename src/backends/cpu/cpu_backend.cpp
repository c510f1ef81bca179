#include "backends/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "plugins/plugin_kernel.h"
#include "plugins/plugin_node.h"

namespace kiln {

namespace {

class CpuBackend : public Backend {
public:
    std::string name() const override { return "cpu"; }

    std::string targetDescription() const override {
#if defined(__x86_64__)
        return "x86_64";
#elif defined(__aarch64__)
        return "aarch64";
#else
        return "unknown-cpu";
#endif
    }

    bool supports(const Node& node, std::string* reason) const override {
        if (isPluginNode(node)) return pluginSupports(node, name(), reason);
        const CpuKernelEntry* entry = CpuKernelRegistry::global().find(node);
        if (!entry) {
            if (reason) *reason = "no CPU kernel for " + CpuKernelRegistry::qualifiedName(node.domain, node.opType);
            return false;
        }
        return cpuEntrySupports(*entry, node, reason);
    }

    Expected<std::unique_ptr<Kernel>> createKernel(const Node& node) const override {
        std::string reason;
        if (!supports(node, &reason)) return unsupported(node.describe() + ": " + reason);
        if (isPluginNode(node)) {
            auto kernel = createPluginKernel(node, name());
            if (!kernel) return kernel.status().withContext(node.describe());
            return kernel;
        }
        return CpuKernelRegistry::global().find(node)->create(node);
    }

    void* allocate(size_t bytes) override {
        size_t rounded = ((bytes + 63) / 64) * 64;
        return std::aligned_alloc(64, rounded ? rounded : 64);
    }
    void deallocate(void* ptr) override { std::free(ptr); }
    Status copyToDevice(void* dst, const void* src, size_t bytes, Stream) override {
        if (bytes) std::memcpy(dst, src, bytes);
        return Status::ok();
    }
    Status copyToHost(void* dst, const void* src, size_t bytes, Stream) override {
        if (bytes) std::memcpy(dst, src, bytes);
        return Status::ok();
    }
    Status copyOnDevice(void* dst, const void* src, size_t bytes, Stream) override {
        if (bytes && dst != src) std::memmove(dst, src, bytes);
        return Status::ok();
    }
    Status synchronize(Stream) override { return Status::ok(); }
    bool isHostMemory() const override { return true; }
    bool canRunInPlace(const Node& node, size_t) const override {
        const CpuKernelEntry* entry = CpuKernelRegistry::global().find(node);
        return entry && entry->inPlace;
    }
};

}  // namespace

std::unique_ptr<Backend> createCpuBackend() { return std::make_unique<CpuBackend>(); }

Backend& cpuBackend() { return *getBackend("cpu"); }

Expected<std::vector<Tensor>> CpuNodeEvaluator::evaluate(const Node& node, const std::vector<const Tensor*>& inputs,
                                                         const std::vector<ValueInfo>& outputs) const {
    const CpuKernelEntry* entry = CpuKernelRegistry::global().find(node);
    if (!entry) return unsupported(node.describe() + ": no CPU kernel to evaluate it");
    std::string reason;
    if (!lowBitTypesSupported(*entry, node, &reason) || !cpuEntryHandlesStrings(*entry, node, &reason))
        return unsupported(node.describe() + ": " + reason);
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, entry->create(node));
    std::vector<TensorView> inViews;
    for (const Tensor* t : inputs) inViews.push_back(t ? viewOf(*t) : TensorView{});
    StringArena strings;
    KernelIO io;
    io.strings = &strings;
    io.inputs = inViews.data();
    io.numInputs = inViews.size();
    // Shapes that depend on the input values come from the kernel itself.
    std::vector<Shape> shapes;
    bool shapesKnown = true;
    for (const ValueInfo& info : outputs) shapesKnown = shapesKnown && info.known && isFullyKnown(info.shape);
    if (shapesKnown) {
        for (const ValueInfo& info : outputs) shapes.push_back(toConcrete(info.shape));
    } else {
        const OpSchema* schema = OpRegistry::global().find(node.domain, node.opType);
        if (!schema || !schema->dataDependentShape)
            return unsupported(node.describe() + ": output shape unknown before evaluation");
        KILN_ASSIGN_OR_RETURN(shapes, kernel->computeOutputShapes(io));
        if (shapes.size() != outputs.size())
            return internalError(node.describe() + ": the kernel reported " + std::to_string(shapes.size()) +
                                 " output shapes for " + std::to_string(outputs.size()) + " outputs");
    }
    std::vector<Tensor> results;
    std::vector<TensorView> outViews;
    for (size_t i = 0; i < outputs.size(); ++i) {
        results.push_back(Tensor::allocate(outputs[i].dtype, shapes[i]));
        outViews.push_back(viewOf(results.back()));
    }
    KILN_RETURN_IF_ERROR(kernel->reshape(inViews, outViews));
    std::vector<uint8_t> workspace(kernel->workspaceSize());
    io.outputs = outViews.data();
    io.numOutputs = outViews.size();
    io.workspace = workspace.data();
    io.workspaceBytes = workspace.size();
    KILN_RETURN_IF_ERROR(kernel->run(io));
    // Computed strings live in this call's arena and copied ones in the inputs: own them.
    for (Tensor& t : results)
        if (t.dtype() == DataType::kSTRING) t = Tensor::fromStrings(t.strings(), t.shape());
    return results;
}

}  // namespace kiln
