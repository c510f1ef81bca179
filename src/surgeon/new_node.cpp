#include "surgeon/new_node.h"

#include <map>
#include <variant>

#include "builder/layer_attribute_entry.h"
#include "surgeon/tensor_proto_writer.h"

namespace kiln::surgeon {

namespace {

Status writeAttribute(const std::string& name, const AttributeValue& value, onnx::AttributeProto& attr) {
    attr.set_name(name);
    if (const auto* v = std::get_if<int64_t>(&value)) {
        attr.set_type(onnx::AttributeProto::INT);
        attr.set_i(*v);
    } else if (const auto* v = std::get_if<float>(&value)) {
        attr.set_type(onnx::AttributeProto::FLOAT);
        attr.set_f(*v);
    } else if (const auto* v = std::get_if<std::string>(&value)) {
        attr.set_type(onnx::AttributeProto::STRING);
        attr.set_s(*v);
    } else if (const auto* v = std::get_if<std::vector<int64_t>>(&value)) {
        attr.set_type(onnx::AttributeProto::INTS);
        for (int64_t x : *v) attr.add_ints(x);
    } else if (const auto* v = std::get_if<std::vector<float>>(&value)) {
        attr.set_type(onnx::AttributeProto::FLOATS);
        for (float x : *v) attr.add_floats(x);
    } else if (const auto* v = std::get_if<std::vector<std::string>>(&value)) {
        attr.set_type(onnx::AttributeProto::STRINGS);
        for (const std::string& x : *v) attr.add_strings(x);
    } else if (const auto* v = std::get_if<Tensor>(&value)) {
        attr.set_type(onnx::AttributeProto::TENSOR);
        writeTensorProto(*v, "", *attr.mutable_t());
    } else {
        return invalidArgument("attribute '" + name + "' is a subgraph, which a new node cannot be given");
    }
    return Status::ok();
}

}  // namespace

Expected<onnx::NodeProto> makeNodeProto(const NewNode& node, const std::vector<std::string>& inputs,
                                        const std::vector<std::string>& outputs) {
    if (node.name.empty()) return invalidArgument("the new node has no name");
    if (node.opType.empty()) return invalidArgument("the new node '" + node.name + "' has no op type");
    if (outputs.empty()) return invalidArgument("the new node '" + node.name + "' has no outputs");
    onnx::NodeProto proto;
    proto.set_name(node.name);
    proto.set_op_type(node.opType);
    if (!node.domain.empty()) proto.set_domain(node.domain);
    for (const std::string& input : inputs) proto.add_input(input);
    for (const std::string& output : outputs) proto.add_output(output);
    // LayerAttributes keeps every set call; ONNX allows one attribute per name, so the last one counts.
    std::map<std::string, const AttributeValue*> attributes;
    for (const LayerAttributes::Entry& entry : node.attributes.entries()) attributes[entry.name] = &entry.value;
    for (const auto& [name, value] : attributes)
        KILN_RETURN_IF_ERROR(writeAttribute(name, *value, *proto.add_attribute())
                                 .withContext("new node '" + node.name + "'"));
    return proto;
}

void importDomain(onnx::ModelProto& model, const std::string& domain) {
    if (domain.empty() || domain == "ai.onnx") return;
    for (const auto& id : model.opset_import())
        if (id.domain() == domain) return;
    onnx::OperatorSetIdProto* id = model.add_opset_import();
    id->set_domain(domain);
    id->set_version(1);
}

}  // namespace kiln::surgeon
