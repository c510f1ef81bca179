#include "ir/control_flow.h"

#include "ir/shape_inference.h"

namespace kiln {

int64_t capturedInputCount(const Node& node) { return node.attrs.getInt(kCapturedInputsAttr, 0); }

Expected<std::vector<ValueInfo>> inferSubgraph(const InferenceContext& ctx, const std::string& attr,
                                               const std::vector<ValueInfo>& inputs) {
    std::shared_ptr<Graph> body = ctx.attrs().getGraph(attr);
    if (!body) return ctx.error("graph attribute '" + attr + "' is missing");
    if (body->inputs().size() != inputs.size())
        return ctx.error("subgraph '" + attr + "' has " + std::to_string(body->inputs().size()) + " inputs; " +
                         std::to_string(inputs.size()) + " are bound to it");
    std::vector<ValueInfo> infos = initialValueInfos(*body);
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].known) return ctx.error("input " + std::to_string(i) + " of subgraph '" + attr + "' has no known type");
        const Value* in = body->inputs()[i];
        if (in->typeKnown && (in->dtype != inputs[i].dtype || in->container.isTensor() != inputs[i].container.isTensor()))
            return ctx.error("subgraph '" + attr + "' declares input '" + in->name + "' as " + dataTypeName(in->dtype) +
                             " but is given " + dataTypeName(inputs[i].dtype) +
                         (inputs[i].container.isTensor() ? "" : " " + containerTypeName(inputs[i].container)));
        infos[static_cast<size_t>(in->id)] = inputs[i];
    }
    Status status = inferShapes(*body, infos, ShapeInferenceOptions{});
    if (!status) return ctx.error("in subgraph '" + attr + "': " + status.message());
    for (const auto& v : body->values()) {
        if (!v || v->typeKnown) continue;
        const ValueInfo& info = infos[static_cast<size_t>(v->id)];
        if (!info.known) continue;
        v->dtype = info.dtype;
        v->shape = info.shape;
        v->typeKnown = true;
        v->container = info.container;
    }
    std::vector<ValueInfo> outputs;
    for (const Value* out : body->outputs()) {
        const ValueInfo& info = infos[static_cast<size_t>(out->id)];
        if (!info.known) return ctx.error("subgraph '" + attr + "' output '" + out->name + "' has no known type");
        outputs.push_back(info);
    }
    return outputs;
}

Expected<std::vector<ValueInfo>> capturedInputInfos(const InferenceContext& ctx) {
    const int64_t captured = capturedInputCount(ctx.node());
    if (captured < 0 || static_cast<size_t>(captured) > ctx.numInputs())
        return ctx.error("attribute " + std::string(kCapturedInputsAttr) + " = " + std::to_string(captured) +
                         " does not fit the node's " + std::to_string(ctx.numInputs()) + " inputs");
    std::vector<ValueInfo> infos;
    for (size_t i = ctx.numInputs() - static_cast<size_t>(captured); i < ctx.numInputs(); ++i) {
        if (!ctx.hasInput(i)) return ctx.error("captured input " + std::to_string(i) + " is missing");
        infos.push_back(ctx.input(i));
    }
    return infos;
}

Expected<ScanLayout> scanLayoutOf(const Node& node, size_t formalInputs, size_t numOutputs,
                                  const std::function<int64_t(size_t)>& inputRank) {
    auto error = [&](const std::string& message) { return invalidModel(node.describe() + ": " + message); };
    const std::optional<int64_t> scanInputs = node.attrs.getInt("num_scan_inputs");
    if (!scanInputs || *scanInputs < 1 || static_cast<size_t>(*scanInputs) > formalInputs)
        return error("num_scan_inputs must be between 1 and the number of inputs (" + std::to_string(formalInputs) + ")");
    ScanLayout layout;
    const size_t m = static_cast<size_t>(*scanInputs);
    layout.states = formalInputs - m;
    if (numOutputs < layout.states) return error("Scan needs an output per state value");
    const size_t k = numOutputs - layout.states;

    auto listOf = [&](const char* name, size_t count, std::vector<int64_t>& out) -> Status {
        out = node.attrs.getInts(name, std::vector<int64_t>(count, 0));
        if (out.size() != count)
            return error(std::string(name) + " lists " + std::to_string(out.size()) + " values, " + std::to_string(count) +
                         " are needed");
        return Status::ok();
    };
    std::vector<int64_t> directions;
    KILN_RETURN_IF_ERROR(listOf("scan_input_axes", m, layout.scanInputAxes));
    KILN_RETURN_IF_ERROR(listOf("scan_input_directions", m, directions));
    for (int64_t d : directions) layout.scanInputReverse.push_back(d != 0);
    KILN_RETURN_IF_ERROR(listOf("scan_output_axes", k, layout.scanOutputAxes));
    KILN_RETURN_IF_ERROR(listOf("scan_output_directions", k, directions));
    for (int64_t d : directions) layout.scanOutputReverse.push_back(d != 0);
    for (size_t j = 0; j < m; ++j) {
        const int64_t rank = inputRank(layout.states + j);
        int64_t& axis = layout.scanInputAxes[j];
        if (axis < -rank || axis >= rank)
            return error("scan_input_axes[" + std::to_string(j) + "] = " + std::to_string(axis) +
                         " is out of range for rank " + std::to_string(rank));
        if (axis < 0) axis += rank;
    }
    return layout;
}

}  // namespace kiln
