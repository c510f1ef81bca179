#include "test_data_loading.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "case_discovery.h"
#include "frontend/onnx/tensor_proto.h"
#include "onnx.pb.h"

namespace kiln::conformance {
namespace {

std::string portKind(const onnx::TypeProto& type) {
    switch (type.value_case()) {
        case onnx::TypeProto::kTensorType: return "tensor";
        case onnx::TypeProto::kSequenceType: return "sequence";
        case onnx::TypeProto::kOptionalType: return "optional";
        case onnx::TypeProto::kMapType: return "map";
        case onnx::TypeProto::kSparseTensorType: return "sparse tensor";
        default: return "unknown";
    }
}

Expected<std::string> readFile(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return Status(StatusCode::kIoError, "cannot open " + path);
    std::stringstream bytes;
    bytes << file.rdbuf();
    return bytes.str();
}

/// ONNX 1.12 wrote bfloat16 test data as uint16 tensors of the bfloat16 bit patterns, numpy having no
/// bfloat16 type; the data means those bfloat16 values.
Tensor bitsAsBFloat16(const Tensor& bits) {
    Tensor out = Tensor::allocate(DataType::kBF16, bits.shape());
    std::memcpy(out.data(), bits.data(), bits.byteSize());
    return out;
}

/// The tensors of input_*.pb or output_*.pb, matched to `ports` by position.
Status loadTensors(const std::string& directory, const std::string& prefix, const std::vector<GraphPort>& ports,
                   std::vector<NamedTensor>& into) {
    const std::vector<std::string> files = numberedProtoFiles(directory, prefix);
    if (files.size() > ports.size())
        return invalidModel(directory + " holds " + std::to_string(files.size()) + " " + prefix + " files, but the model has " +
                            std::to_string(ports.size()) + " " + prefix + "s");
    for (size_t j = 0; j < files.size(); ++j) {
        const std::string fileName = std::filesystem::path(files[j]).filename().string();
        if (ports[j].kind != "tensor")
            return unsupported(prefix + " '" + ports[j].name + "' is a " + ports[j].kind +
                               "; the runner feeds and reads tensors only");
        KILN_ASSIGN_OR_RETURN(std::string bytes, readFile(files[j]));
        onnx::TensorProto proto;
        if (!proto.ParseFromString(bytes)) return invalidModel(fileName + " is not a TensorProto");
        const std::string name = proto.name().empty() ? ports[j].name : proto.name();
        Expected<Tensor> tensor = onnx_import::tensorFromProto(proto, fileName + " ('" + name + "')", directory);
        if (!tensor) return tensor.status();
        if (ports[j].elementType == onnx::TensorProto::BFLOAT16 && proto.data_type() == onnx::TensorProto::UINT16) {
            into.push_back({name, bitsAsBFloat16(*tensor)});
            continue;
        }
        into.push_back({name, std::move(tensor).value()});
    }
    return Status::ok();
}

}  // namespace

Expected<GraphPorts> readGraphPorts(const std::string& modelPath) {
    KILN_ASSIGN_OR_RETURN(std::string bytes, readFile(modelPath));
    onnx::ModelProto model;
    if (!model.ParseFromString(bytes)) return invalidModel(modelPath + " is not a valid ModelProto");
    std::set<std::string> initializers;
    for (const onnx::TensorProto& initializer : model.graph().initializer()) initializers.insert(initializer.name());
    GraphPorts ports;
    auto portOf = [](const onnx::ValueInfoProto& info) {
        const int32_t elementType = info.type().has_tensor_type() ? info.type().tensor_type().elem_type() : 0;
        return GraphPort{info.name(), portKind(info.type()), elementType};
    };
    for (const onnx::ValueInfoProto& input : model.graph().input())
        if (!initializers.count(input.name())) ports.inputs.push_back(portOf(input));
    for (const onnx::ValueInfoProto& output : model.graph().output()) ports.outputs.push_back(portOf(output));
    return ports;
}

Expected<DataSet> loadDataSet(const std::string& dataSetDirectory, const GraphPorts& ports) {
    DataSet data;
    KILN_RETURN_IF_ERROR(loadTensors(dataSetDirectory, "input", ports.inputs, data.inputs));
    KILN_RETURN_IF_ERROR(loadTensors(dataSetDirectory, "output", ports.outputs, data.expectedOutputs));
    return data;
}

}  // namespace kiln::conformance
