#include "test_data_loading.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "case_discovery.h"
#include "frontend/onnx/tensor_proto.h"
#include "onnx.pb.h"

#include <google/protobuf/io/coded_stream.h>

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

/// The top-level fields of a serialized message: number -> the payloads of its length-delimited
/// occurrences, in order. onnx.SequenceProto and OptionalProto live in onnx-data.proto, which the
/// build does not compile; their few fields are read off the wire format here instead.
Expected<std::map<uint32_t, std::vector<std::string>>> delimitedFields(const std::string& bytes, const std::string& what) {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
    std::map<uint32_t, std::vector<std::string>> fields;
    while (uint32_t tag = in.ReadTag()) {
        const uint32_t number = tag >> 3;
        switch (tag & 7) {
            case 0: {  // varint (elem_type)
                uint64_t ignored = 0;
                if (!in.ReadVarint64(&ignored)) return invalidModel(what + " is truncated");
                break;
            }
            case 2: {  // length-delimited (name, tensors, a nested sequence)
                uint32_t length = 0;
                std::string payload;
                if (!in.ReadVarint32(&length) || !in.ReadString(&payload, static_cast<int>(length)))
                    return invalidModel(what + " is truncated");
                fields[number].push_back(std::move(payload));
                break;
            }
            default:
                return invalidModel(what + " has a field of wire type " + std::to_string(tag & 7) + ", not a sequence or optional");
        }
    }
    return fields;
}

/// Appends the TensorProtos (field 3) of a serialized onnx.SequenceProto.
Status appendSequence(const std::string& bytes, const std::string& fileName, const std::string& directory, NamedTensor& into) {
    KILN_ASSIGN_OR_RETURN(auto fields, delimitedFields(bytes, fileName));
    for (const std::string& payload : fields[3]) {
        onnx::TensorProto proto;
        if (!proto.ParseFromString(payload)) return invalidModel(fileName + ": a sequence element is not a TensorProto");
        KILN_ASSIGN_OR_RETURN(Tensor tensor, onnx_import::tensorFromProto(proto, fileName, directory));
        into.elements.push_back(std::move(tensor));
    }
    if (!fields[5].empty() || !fields[6].empty() || !fields[4].empty())
        return unsupported(fileName + ": a sequence of sparse tensors, sequences or maps");
    return Status::ok();
}

/// A sequence or optional port's value: an onnx.SequenceProto (name 1, tensor_values 3) or
/// onnx.OptionalProto (name 1, tensor_value 3, sequence_value 5) file.
Expected<NamedTensor> loadContainer(const std::string& path, const std::string& fileName, const std::string& directory,
                                    const GraphPort& port) {
    KILN_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
    NamedTensor value;
    value.name = port.name;
    value.container = true;
    KILN_ASSIGN_OR_RETURN(auto fields, delimitedFields(bytes, fileName));
    if (!fields[1].empty() && !fields[1][0].empty()) value.name = fields[1][0];
    if (port.kind == "sequence") {
        KILN_RETURN_IF_ERROR(appendSequence(bytes, fileName, directory, value));
        return value;
    }
    value.present = !fields[3].empty() || !fields[5].empty();
    if (!fields[3].empty()) {
        onnx::TensorProto proto;
        if (!proto.ParseFromString(fields[3][0])) return invalidModel(fileName + ": the optional's tensor is not a TensorProto");
        KILN_ASSIGN_OR_RETURN(Tensor tensor, onnx_import::tensorFromProto(proto, fileName, directory));
        value.elements.push_back(std::move(tensor));
    } else if (!fields[5].empty()) {
        KILN_RETURN_IF_ERROR(appendSequence(fields[5][0], fileName, directory, value));
    }
    return value;
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
        if (ports[j].kind == "sequence" || ports[j].kind == "optional") {
            KILN_ASSIGN_OR_RETURN(NamedTensor value, loadContainer(files[j], fileName, directory, ports[j]));
            into.push_back(std::move(value));
            continue;
        }
        if (ports[j].kind != "tensor")
            return unsupported(prefix + " '" + ports[j].name + "' is a " + ports[j].kind +
                               "; the runner feeds and reads tensors, sequences and optionals only");
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
