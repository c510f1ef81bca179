#include "frontend/onnx/container_type_import.h"

#include "frontend/onnx/tensor_proto.h"
#include "ir/onnx_types.h"

namespace kiln::onnx_import {

Expected<SymShape> shapeFromProto(const onnx::TensorShapeProto& proto, const std::string& what) {
    SymShape shape;
    for (const onnx::TensorShapeProto::Dimension& d : proto.dim()) {
        if (d.has_dim_value()) {
            if (d.dim_value() < 0) return invalidModel(what + " has the negative dimension " + std::to_string(d.dim_value()));
            shape.emplace_back(d.dim_value());
        } else if (d.has_dim_param() && !d.dim_param().empty()) {
            shape.push_back(Dim::named(d.dim_param()));
        } else {
            shape.push_back(Dim::unknown());
        }
    }
    return shape;
}

namespace {

/// The element type and (when declared) shape of a tensor TypeProto inside a sequence or optional.
Expected<ContainerType> tensorElement(const onnx::TypeProto& type, const std::string& what) {
    if (type.value_case() != onnx::TypeProto::kTensorType)
        return unsupported(what + " holds something other than tensors (nested sequences, maps and sparse tensors "
                                  "are not supported)");
    const onnx::TypeProto::Tensor& tensor = type.tensor_type();
    std::optional<DataType> dtype = dataTypeFromOnnx(tensor.elem_type());
    if (!dtype) return unsupported(what + " has element type " + onnxTypeName(tensor.elem_type()) + ", which Kiln does not support");
    ContainerType result{ValueKind::kTensor, *dtype, std::nullopt};
    if (tensor.has_shape()) {
        KILN_ASSIGN_OR_RETURN(SymShape shape, shapeFromProto(tensor.shape(), what));
        result.elementShape = std::move(shape);
    }
    return result;
}

}  // namespace

Expected<ContainerType> containerTypeFromProto(const onnx::TypeProto& type, const std::string& what) {
    switch (type.value_case()) {
        case onnx::TypeProto::kTensorType:
            return tensorElement(type, what);
        case onnx::TypeProto::kSequenceType: {
            KILN_ASSIGN_OR_RETURN(ContainerType element, tensorElement(type.sequence_type().elem_type(), what));
            return ContainerType::sequenceOf(element.elementType, element.elementShape);
        }
        case onnx::TypeProto::kOptionalType: {
            const onnx::TypeProto& inner = type.optional_type().elem_type();
            if (inner.value_case() == onnx::TypeProto::kSequenceType) {
                KILN_ASSIGN_OR_RETURN(ContainerType element, tensorElement(inner.sequence_type().elem_type(), what));
                return ContainerType::optionalOf(ContainerType::sequenceOf(element.elementType, element.elementShape));
            }
            KILN_ASSIGN_OR_RETURN(ContainerType element, tensorElement(inner, what));
            return ContainerType::optionalOf(element);
        }
        default:
            return unsupported(what + " is not a tensor, sequence or optional (maps and sparse tensors are not supported)");
    }
}

}  // namespace kiln::onnx_import
