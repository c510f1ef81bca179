// The schema of every plugin layer: types and shapes come from the plugin's run-time part, asked
// at build time on symbolic shapes (unknown extents as -1) and at run time on concrete ones.

#include "ir/op_registry.h"
#include "plugins/plugin_node.h"

namespace kiln {

namespace {

Expected<Dims> pluginDims(const SymShape& shape) {
    if (shape.size() > static_cast<size_t>(kMaxDims))
        return unsupported("a plugin input of rank " + std::to_string(shape.size()) + " exceeds the most, " +
                           std::to_string(kMaxDims));
    Dims dims;
    dims.nbDims = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i].isKnown() ? shape[i].value : -1;
    return dims;
}

Status inferPlugin(InferenceContext& ctx) {
    const Node& node = ctx.node();
    Expected<std::unique_ptr<IPluginRuntime>> created = createPluginRuntime(node);
    if (!created) return ctx.error(created.status().message());
    const IPluginRuntime& plugin = **created;

    const int32_t nbOutputs = plugin.getNbOutputs();
    if (nbOutputs != static_cast<int32_t>(ctx.numOutputs()))
        return ctx.error("the plugin has " + std::to_string(nbOutputs) + " outputs but the node " +
                         std::to_string(ctx.numOutputs()));
    std::vector<DataType> inputTypes;
    std::vector<Dims> inputDims;
    for (size_t i = 0; i < ctx.numInputs(); ++i) {
        if (!ctx.hasInput(i)) return ctx.error("input " + std::to_string(i) + " is omitted: plugin inputs cannot be");
        inputTypes.push_back(ctx.inputType(i));
        Expected<Dims> dims = pluginDims(ctx.inputShape(i));
        if (!dims) return ctx.error(dims.status().message());
        inputDims.push_back(*dims);
    }
    const int32_t nbInputs = static_cast<int32_t>(inputTypes.size());
    bool inputsKnown = true;
    for (size_t i = 0; i < ctx.numInputs(); ++i) inputsKnown = inputsKnown && isFullyKnown(ctx.inputShape(i));

    std::vector<DataType> outputTypes(static_cast<size_t>(nbOutputs), DataType::kFLOAT);
    std::string error;
    if (!plugin.getOutputDataTypes(inputTypes.data(), nbInputs, outputTypes.data(), &error))
        return ctx.error("the plugin refused its input types: " + error);
    std::vector<Dims> outputDims(static_cast<size_t>(nbOutputs));
    if (!plugin.getOutputShapes(inputDims.data(), nbInputs, outputDims.data(), &error))
        return ctx.error("the plugin refused its input shapes: " + error);

    for (size_t i = 0; i < outputDims.size(); ++i) {
        const Dims& dims = outputDims[i];
        if (dims.nbDims < 0 || dims.nbDims > kMaxDims)
            return ctx.error("the plugin gave output " + std::to_string(i) + " the rank " + std::to_string(dims.nbDims));
        SymShape shape;
        for (int32_t d = 0; d < dims.nbDims; ++d) {
            // With every input extent known (always so at run time), the outputs' are too.
            if (dims.d[d] < 0 && inputsKnown)
                return ctx.error("the plugin left dimension " + std::to_string(d) + " of output " + std::to_string(i) +
                                 " unknown although every input dimension is known");
            shape.push_back(dims.d[d] >= 0 ? Dim(dims.d[d]) : Dim::unknown());
        }
        ctx.setOutput(i, outputTypes[i], std::move(shape));
    }
    return Status::ok();
}

}  // namespace

void registerPluginOps(OpRegistry& registry) {
    OpSchema schema;
    schema.domain = kPluginDomain;
    schema.infer = inferPlugin;
    // A plugin may be anything (random, stateful, slow): the builder never runs it to fold constants.
    schema.foldable = false;
    registry.addDomain(std::move(schema));
}

}  // namespace kiln
