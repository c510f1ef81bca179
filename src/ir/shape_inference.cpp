#include "ir/shape_inference.h"

#include <sstream>

namespace kiln {

std::vector<ValueInfo> initialValueInfos(const Graph& graph) {
    std::vector<ValueInfo> infos(graph.valueCapacity());
    for (const auto& v : graph.values()) {
        if (!v) continue;
        ValueInfo& info = infos[static_cast<size_t>(v->id)];
        if (v->isConstant()) {
            info.dtype = v->constant->dtype();
            info.shape = fromConcrete(v->constant->shape());
            info.known = true;
            info.value = *v->constant;
        } else if (graph.isGraphInput(v.get())) {
            info.dtype = v->dtype;
            info.shape = v->shape;
            info.known = v->typeKnown;
            info.container = v->container;
        }
    }
    return infos;
}

std::vector<ValueInfo> annotatedValueInfos(const Graph& graph) {
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    for (const auto& v : graph.values()) {
        if (!v || v->isConstant() || !v->typeKnown) continue;
        ValueInfo& info = infos[static_cast<size_t>(v->id)];
        info.dtype = v->dtype;
        info.shape = v->shape;
        info.known = true;
        info.container = v->container;
    }
    return infos;
}

ValueInfo recordedInfo(const Value& value) {
    ValueInfo info;
    info.dtype = value.dtype;
    info.shape = value.shape;
    info.known = value.typeKnown;
    return info;
}

std::optional<size_t> knownByteSize(const ValueInfo& info) {
    if (!info.known) return std::nullopt;
    const std::optional<int64_t> count = knownElementCount(info.shape);
    if (!count) return std::nullopt;
    return static_cast<size_t>(*count) * dataTypeSize(info.dtype);
}

Status inferNode(const Node& node, std::vector<ValueInfo>& infos, const ShapeInferenceOptions& options) {
    const OpSchema* schema = OpRegistry::global().find(node.domain, node.opType);
    if (!schema) return unsupported(node.describe() + ": no shape inference registered for this op");
    if (node.inputs.size() < schema->minInputs || node.inputs.size() > schema->maxInputs) {
        std::ostringstream oss;
        oss << node.describe() << ": takes " << schema->minInputs << ".."
            << (schema->maxInputs == SIZE_MAX ? std::string("n") : std::to_string(schema->maxInputs))
            << " inputs, got " << node.inputs.size();
        return invalidModel(oss.str());
    }
    std::vector<const ValueInfo*> inputs;
    inputs.reserve(node.inputs.size());
    bool allValuesKnown = true;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
        const Value* in = node.inputs[i];
        if (!in) {
            inputs.push_back(nullptr);
            continue;
        }
        const ValueInfo& info = infos[static_cast<size_t>(in->id)];
        if (!info.known)
            return invalidModel(node.describe() + ": input " + std::to_string(i) + " '" + in->name +
                                "' has no known type or shape");
        if (!info.container.isTensor() && !schema->nonTensorValues)
            return invalidModel(node.describe() + ": input " + std::to_string(i) + " '" + in->name + "' is a " +
                                containerTypeName(info.container) + "; " + node.opType + " takes tensors only");
        if (!info.value) allValuesKnown = false;
        inputs.push_back(&info);
    }
    InferenceContext ctx(node, std::move(inputs), node.outputs.size());
    KILN_RETURN_IF_ERROR(schema->infer(ctx));

    std::vector<ValueInfo>& results = ctx.outputs();
    bool needValues = false;
    bool tensorsOnly = true;  // a handle's bits mean nothing outside the run that made them: never folded
    for (size_t i = 0; i < results.size(); ++i) {
        if (!node.outputs[i]) continue;
        if (!results[i].known) return internalError(node.describe() + ": inference left output " + std::to_string(i) + " unset");
        if (!results[i].container.isTensor()) tensorsOnly = false;
        if (!results[i].value) {
            // A data-dependent shape is worth evaluating whatever its size: it is the only way to
            // learn the shape before running.
            auto count = knownElementCount(results[i].shape);
            if (count ? *count <= options.maxPropagatedElements : schema->dataDependentShape) needValues = true;
        }
    }
    if (needValues && allValuesKnown && tensorsOnly && schema->foldable && options.evaluator) {
        std::vector<const Tensor*> values;
        for (const Value* in : node.inputs)
            values.push_back(in ? &*infos[static_cast<size_t>(in->id)].value : nullptr);
        // A failed evaluation only means the values stay unknown; the node then runs at execution
        // time, where a real error surfaces with full context.
        auto evaluated = options.evaluator->evaluate(node, values, results);
        for (size_t i = 0; evaluated && i < results.size() && i < evaluated->size(); ++i) {
            if (!node.outputs[i] || results[i].value) continue;
            Tensor& t = (*evaluated)[i];
            results[i].dtype = t.dtype();
            results[i].shape = fromConcrete(t.shape());
            results[i].value = std::move(t);
        }
    }
    for (size_t i = 0; i < results.size(); ++i) {
        if (node.outputs[i]) infos[static_cast<size_t>(node.outputs[i]->id)] = std::move(results[i]);
    }
    return Status::ok();
}

Status inferShapes(const Graph& graph, std::vector<ValueInfo>& infos, const ShapeInferenceOptions& options) {
    if (infos.size() < graph.valueCapacity()) infos.resize(graph.valueCapacity());
    for (const auto& node : graph.nodes()) KILN_RETURN_IF_ERROR(inferNode(*node, infos, options));
    return Status::ok();
}

Status inferGraphShapes(Graph& graph, const ShapeInferenceOptions& options) {
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    KILN_RETURN_IF_ERROR(inferShapes(graph, infos, options));
    for (const auto& v : graph.values()) {
        if (!v) continue;
        const ValueInfo& info = infos[static_cast<size_t>(v->id)];
        if (!info.known) continue;
        v->dtype = info.dtype;
        v->shape = info.shape;
        v->typeKnown = true;
        v->container = info.container;
    }
    return Status::ok();
}

}  // namespace kiln
