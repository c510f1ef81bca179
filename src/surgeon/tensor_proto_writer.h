#pragma once
// kiln::Tensor -> ONNX TensorProto: the way back of frontend/onnx/tensor_proto.h, for folded
// constants and for tensor attributes that graph surgery writes into a model.

#include <string>

#include "ir/tensor.h"
#include "onnx.pb.h"

namespace kiln::surgeon {

/// Writes `tensor` as `name` into `proto` (replacing what it held): strings in string_data, every
/// other type in raw_data, little-endian, the sub-byte types packed as ONNX packs them.
void writeTensorProto(const Tensor& tensor, const std::string& name, onnx::TensorProto& proto);

}  // namespace kiln::surgeon
