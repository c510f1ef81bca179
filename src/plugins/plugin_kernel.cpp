#include "plugins/plugin_kernel.h"

#include "plugins/plugin_node.h"

namespace kiln {

namespace {

std::vector<DataType> typesOf(const std::vector<Value*>& values) {
    std::vector<DataType> types;
    for (const Value* v : values) types.push_back(v ? v->dtype : DataType::kFLOAT);
    return types;
}

PluginTensorDesc descOf(const TensorView& view) {
    PluginTensorDesc desc;
    desc.type = view.dtype;
    desc.dims.nbDims = static_cast<int32_t>(view.shape.size());
    for (size_t i = 0; i < view.shape.size() && i < static_cast<size_t>(kMaxDims); ++i) desc.dims.d[i] = view.shape[i];
    return desc;
}

class PluginKernel final : public Kernel {
public:
    PluginKernel(std::unique_ptr<IPluginRuntime> plugin, std::string backend, std::string tactic)
        : mPlugin(std::move(plugin)), mBackend(std::move(backend)), mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInputDescs.clear();
        mOutputDescs.clear();
        for (const TensorView& v : inputs) mInputDescs.push_back(descOf(v));
        for (const TensorView& v : outputs) mOutputDescs.push_back(descOf(v));
        mWorkspace = mPlugin->getWorkspaceSize(mInputDescs.data(), static_cast<int32_t>(mInputDescs.size()),
                                               mOutputDescs.data(), static_cast<int32_t>(mOutputDescs.size()));
        mInputPointers.assign(inputs.size(), nullptr);
        mOutputPointers.assign(outputs.size(), nullptr);
        return Status::ok();
    }

    size_t workspaceSize() const override { return mWorkspace; }

    Status run(const KernelIO& io) override {
        if (io.numInputs != mInputDescs.size() || io.numOutputs != mOutputDescs.size())
            return internalError(mTactic + ": run before reshape");
        for (size_t i = 0; i < io.numInputs; ++i) mInputPointers[i] = io.input(i).data;
        for (size_t i = 0; i < io.numOutputs; ++i) mOutputPointers[i] = io.output(i).data;
        std::string error;
        const int32_t result = mPlugin->enqueue(mBackend.c_str(), mInputDescs.data(),
                                                static_cast<int32_t>(mInputDescs.size()), mOutputDescs.data(),
                                                static_cast<int32_t>(mOutputDescs.size()), mInputPointers.data(),
                                                mOutputPointers.data(), io.workspace, io.stream, &error);
        if (result != 0)
            return internalError(mTactic + ": enqueue returned " + std::to_string(result) + ": " +
                                 (error.empty() ? "no reason given" : error));
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::unique_ptr<IPluginRuntime> mPlugin;
    std::string mBackend;
    std::string mTactic;
    std::vector<PluginTensorDesc> mInputDescs, mOutputDescs;
    std::vector<const void*> mInputPointers;
    std::vector<void*> mOutputPointers;
    size_t mWorkspace{0};
};

}  // namespace

bool pluginSupports(const Node& node, const std::string& backend, std::string* reason) {
    Expected<std::unique_ptr<IPluginBuild>> build = createPluginBuild(node);
    if (!build) {
        if (reason) *reason = build.status().message();
        return false;
    }
    for (const Value* in : node.inputs)
        if (!in) {
            if (reason) *reason = "plugin inputs cannot be omitted";
            return false;
        }
    const std::vector<DataType> in = typesOf(node.inputs), out = typesOf(node.outputs);
    if ((*build)->supportsFormatCombination(backend.c_str(), in.data(), static_cast<int32_t>(in.size()), out.data(),
                                            static_cast<int32_t>(out.size())))
        return true;
    if (reason) {
        std::string types;
        for (DataType t : in) types += std::string(types.empty() ? "" : ", ") + dataTypeName(t);
        *reason = "the plugin does not run on the " + backend + " backend with inputs of type (" + types + ")";
    }
    return false;
}

Expected<std::unique_ptr<Kernel>> createPluginKernel(const Node& node, const std::string& backend) {
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<IPluginRuntime> plugin, createPluginRuntime(node));
    const std::string tactic = backend + ".plugin." + node.opType + "_v" + node.attrs.getString(kPluginVersionAttr, "");
    return std::unique_ptr<Kernel>(std::make_unique<PluginKernel>(std::move(plugin), backend, tactic));
}

}  // namespace kiln
