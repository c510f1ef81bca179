#include "frontend/onnx/attribute_import.h"

#include <vector>

#include "frontend/onnx/container_type_import.h"
#include "frontend/onnx/tensor_proto.h"

namespace kiln::onnx_import {

namespace {

using AttributeType = onnx::AttributeProto::AttributeType;

/// The attribute's kind: its `type`, or, for models written before `type` existed (IR version 1),
/// the one value field that is set.
AttributeType kindOf(const onnx::AttributeProto& a) {
    if (a.type() != onnx::AttributeProto::UNDEFINED) return a.type();
    if (a.has_f()) return onnx::AttributeProto::FLOAT;
    if (a.has_i()) return onnx::AttributeProto::INT;
    if (a.has_s()) return onnx::AttributeProto::STRING;
    if (a.has_t()) return onnx::AttributeProto::TENSOR;
    if (a.has_g()) return onnx::AttributeProto::GRAPH;
    if (a.floats_size()) return onnx::AttributeProto::FLOATS;
    if (a.ints_size()) return onnx::AttributeProto::INTS;
    if (a.strings_size()) return onnx::AttributeProto::STRINGS;
    if (a.graphs_size()) return onnx::AttributeProto::GRAPHS;
    if (a.tensors_size()) return onnx::AttributeProto::TENSORS;
    return onnx::AttributeProto::UNDEFINED;
}

Status importAttribute(onnx::AttributeProto& a, const std::string& where, const std::string& modelDir,
                       const SubgraphImport& importSubgraph, AttributeMap& attrs) {
    switch (kindOf(a)) {
        case onnx::AttributeProto::FLOAT:
            attrs.set(a.name(), a.f());
            return Status::ok();
        case onnx::AttributeProto::INT:
            attrs.set(a.name(), static_cast<int64_t>(a.i()));
            return Status::ok();
        case onnx::AttributeProto::STRING:
            attrs.set(a.name(), a.s());
            return Status::ok();
        case onnx::AttributeProto::FLOATS:
            attrs.set(a.name(), std::vector<float>(a.floats().begin(), a.floats().end()));
            return Status::ok();
        case onnx::AttributeProto::INTS:
            attrs.set(a.name(), std::vector<int64_t>(a.ints().begin(), a.ints().end()));
            return Status::ok();
        case onnx::AttributeProto::STRINGS:
            attrs.set(a.name(), std::vector<std::string>(a.strings().begin(), a.strings().end()));
            return Status::ok();
        case onnx::AttributeProto::TENSOR: {
            KILN_ASSIGN_OR_RETURN(Tensor t, tensorFromProto(*a.mutable_t(), where, modelDir));
            attrs.set(a.name(), std::move(t));
            return Status::ok();
        }
        case onnx::AttributeProto::GRAPH:
            attrs.set(a.name(), importSubgraph(*a.mutable_g(), a.name()));
            return Status::ok();
        case onnx::AttributeProto::GRAPHS: {
            std::vector<std::shared_ptr<Graph>> graphs;
            for (onnx::GraphProto& g : *a.mutable_graphs()) graphs.push_back(importSubgraph(g, a.name()));
            attrs.set(a.name(), std::move(graphs));
            return Status::ok();
        }
        case onnx::AttributeProto::TENSORS:
        case onnx::AttributeProto::SPARSE_TENSOR:
        case onnx::AttributeProto::SPARSE_TENSORS:
        case onnx::AttributeProto::TYPE_PROTO: {
            // Attributes hold no types: the type is kept as encodeContainerType's int list (Optional's `type`).
            KILN_ASSIGN_OR_RETURN(ContainerType type, containerTypeFromProto(a.tp(), where));
            attrs.set(a.name(), encodeContainerType(type));
            return Status::ok();
        }
        case onnx::AttributeProto::TYPE_PROTOS:
            return unsupported(where + " is of kind " + onnx::AttributeProto::AttributeType_Name(kindOf(a)) +
                               ", which Kiln does not support");
        case onnx::AttributeProto::UNDEFINED:
            return invalidModel(where + " has no value");
    }
    return invalidModel(where + " has an unknown kind");
}

}  // namespace

Status importAttributes(onnx::NodeProto& node, const std::string& modelDir, const SubgraphImport& importSubgraph,
                        AttributeMap& attrs) {
    for (onnx::AttributeProto& a : *node.mutable_attribute()) {
        if (a.name().empty()) return invalidModel("an attribute has no name");
        const std::string where = "attribute '" + a.name() + "'";
        if (attrs.has(a.name())) return invalidModel("two attributes are named '" + a.name() + "'");
        if (!a.ref_attr_name().empty())
            return unsupported(where + " refers to the attribute '" + a.ref_attr_name() +
                               "' of an enclosing function, which Kiln does not support");
        KILN_RETURN_IF_ERROR(importAttribute(a, where, modelDir, importSubgraph, attrs));
    }
    return Status::ok();
}

}  // namespace kiln::onnx_import
