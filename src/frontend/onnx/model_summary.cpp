#include "frontend/onnx/model_summary.h"

#include <algorithm>
#include <map>
#include <set>

#include "frontend/onnx/contrib_expansion.h"
#include "frontend/onnx/model_loader.h"
#include "frontend/onnx/opset_upgrade.h"
#include "ir/dtype.h"
#include "ir/onnx_types.h"

namespace kiln::onnx_import {

namespace {

OnnxTensorSummary summarizeValue(const onnx::ValueInfoProto& value) {
    OnnxTensorSummary summary{value.name(), "unknown", "?"};
    if (!value.type().has_tensor_type()) return summary;
    const onnx::TypeProto::Tensor& tensor = value.type().tensor_type();
    if (auto dtype = dataTypeFromOnnx(tensor.elem_type())) summary.dtype = dataTypeName(*dtype);
    if (!tensor.has_shape()) return summary;
    std::string shape = "(";
    for (int i = 0; i < tensor.shape().dim_size(); ++i) {
        const auto& dim = tensor.shape().dim(i);
        if (i > 0) shape += ", ";
        if (dim.has_dim_value())
            shape += std::to_string(dim.dim_value());
        else if (dim.has_dim_param() && !dim.dim_param().empty())
            shape += dim.dim_param();
        else
            shape += "?";
    }
    summary.shape = shape + ")";
    return summary;
}

}  // namespace

Expected<OnnxModelSummary> summarizeOnnxModel(const std::string& path) {
    onnx::ModelProto model;
    KILN_RETURN_IF_ERROR(readModelFile(path, model));
    OnnxModelSummary summary;
    summary.irVersion = model.ir_version();
    summary.producer = model.producer_name();
    if (!model.producer_version().empty()) summary.producer += " " + model.producer_version();
    int64_t defaultOpset = 0;
    for (const auto& opset : model.opset_import()) {
        std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
        summary.opsets.emplace_back(domain, opset.version());
        if (domain.empty()) defaultOpset = opset.version();
    }
    const onnx::GraphProto& graph = model.graph();
    summary.graphName = graph.name();
    std::set<std::string> initializerNames;
    for (const auto& init : graph.initializer()) initializerNames.insert(init.name());
    summary.initializers = graph.initializer_size();
    for (const auto& input : graph.input())
        if (!initializerNames.count(input.name())) summary.inputs.push_back(summarizeValue(input));
    for (const auto& output : graph.output()) summary.outputs.push_back(summarizeValue(output));
    summary.nodes = graph.node_size();

    std::map<std::pair<std::string, std::string>, int64_t> counts;
    for (const auto& node : graph.node()) {
        std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
        ++counts[{domain, node.op_type()}];
    }
    for (const auto& [key, count] : counts) {
        OnnxOpSummary op{key.first, key.second, count, isImportable(key.first, key.second, defaultOpset), {}, key.first};
        if (const ContribOp* contrib = findContribOp(key.first, key.second)) {
            op.irOps = contrib->emits;
            op.irDomain = "";
        } else if (key.first.empty())
            for (const OpsetUpgrade* upgrade : upgradesFor(key.second, defaultOpset))
                for (const char* emitted : upgrade->emits) op.irOps.push_back(emitted);
        if (op.irOps.empty()) op.irOps.push_back(key.second);
        summary.ops.push_back(std::move(op));
    }
    std::stable_sort(summary.ops.begin(), summary.ops.end(),
                     [](const OnnxOpSummary& a, const OnnxOpSummary& b) { return a.count > b.count; });
    return summary;
}

}  // namespace kiln::onnx_import
