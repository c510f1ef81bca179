#include "model_summary.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "frontend/onnx/tensor_proto.h"
#include "onnx.pb.h"

namespace kiln::conformance {
namespace {

constexpr const char* kTrainingDomain = "ai.onnx.preview.training";

bool isStandardDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

void collectOps(const onnx::GraphProto& graph, ModelSummary& summary) {
    for (const onnx::NodeProto& node : graph.node()) {
        std::string op = isStandardDomain(node.domain()) ? node.op_type() : node.domain() + "::" + node.op_type();
        if (std::find(summary.opTypes.begin(), summary.opTypes.end(), op) == summary.opTypes.end())
            summary.opTypes.push_back(op);
        if (node.domain() == kTrainingDomain) summary.usesTrainingDomain = true;
        // If/Loop/Scan bodies are part of what the case exercises.
        for (const onnx::AttributeProto& attribute : node.attribute()) {
            if (attribute.has_g()) collectOps(attribute.g(), summary);
            for (const onnx::GraphProto& body : attribute.graphs()) collectOps(body, summary);
        }
    }
}

}  // namespace

ModelSummary summarizeModel(const std::string& modelPath) {
    ModelSummary summary;
    std::ifstream file(modelPath, std::ios::binary);
    if (!file) {
        summary.readError = "cannot open " + modelPath;
        return summary;
    }
    std::stringstream bytes;
    bytes << file.rdbuf();
    onnx::ModelProto model;
    if (!model.ParseFromString(bytes.str())) {
        summary.readError = modelPath + " is not a valid ModelProto";
        return summary;
    }
    for (const onnx::OperatorSetIdProto& opset : model.opset_import())
        if (isStandardDomain(opset.domain())) summary.opsetVersion = opset.version();
    collectOps(model.graph(), summary);
    for (const onnx::ValueInfoProto& input : model.graph().input()) {
        if (!input.type().has_tensor_type()) continue;
        std::string type = onnx_import::onnxTypeName(input.type().tensor_type().elem_type());
        if (std::find(summary.inputTypes.begin(), summary.inputTypes.end(), type) == summary.inputTypes.end())
            summary.inputTypes.push_back(std::move(type));
    }
    return summary;
}

}  // namespace kiln::conformance
