#include "frontend/onnx/import_log.h"

#include <sstream>

namespace kiln::onnx_import {

std::string describeValue(const Value& value) {
    if (!value.typeKnown) return value.name + " -> (?)";
    return value.name + " -> " + symShapeToString(value.shape) + "[" + dataTypeName(value.dtype) + "]";
}

std::string describeValues(const std::vector<Value*>& values) {
    std::ostringstream oss;
    for (size_t i = 0; i < values.size(); ++i)
        oss << (i ? " [" : "[") << (values[i] ? describeValue(*values[i]) : std::string("(omitted)")) << "],";
    return oss.str();
}

namespace {
std::string withoutTrailingComma(std::string text) {
    if (!text.empty() && text.back() == ',') text.pop_back();
    return text;
}
}  // namespace

std::string importSummary(const Graph& graph, int64_t onnxNodes, int64_t opset) {
    size_t constants = 0;
    for (const auto& v : graph.values())
        if (v && v->isConstant()) ++constants;
    std::ostringstream oss;
    oss << "Imported ONNX graph '" << graph.name << "' (opset " << opset << "): " << onnxNodes << " ONNX nodes -> "
        << graph.nodes().size() << " IR nodes, " << constants
        << " constants; inputs: " << withoutTrailingComma(describeValues(graph.inputs()))
        << "; outputs: " << withoutTrailingComma(describeValues(graph.outputs()));
    return oss.str();
}

}  // namespace kiln::onnx_import
