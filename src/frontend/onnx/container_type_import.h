#pragma once
// ONNX's sequence and optional types (TypeProto's sequence_type / optional_type) as Kiln's
// ContainerType (ir/value_kind.h): graph I/O and subgraph inputs declared so, and Optional's
// `type` attribute.

#include <optional>

#include "common/status.h"
#include "ir/value_kind.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

/// The tensor shape an ONNX TensorShapeProto declares (named and unknown dims kept symbolic).
Expected<SymShape> shapeFromProto(const onnx::TensorShapeProto& shape, const std::string& what);

/// The ContainerType `type` declares: for a tensor type, kind kTensor with its element type. An error
/// for maps, sparse tensors, nested sequences and optionals of optionals, which Kiln does not run.
Expected<ContainerType> containerTypeFromProto(const onnx::TypeProto& type, const std::string& what);

}  // namespace kiln::onnx_import
