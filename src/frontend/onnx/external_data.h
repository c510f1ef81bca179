#pragma once
// ONNX external data: a tensor's bytes kept in a side file next to the model (needed past the 2 GB
// protobuf limit). The entries of TensorProto.external_data are "location" (a path relative to the
// model's folder), "offset" and "length" (decimal byte counts); "checksum" is not verified.

#include <string>

#include "common/status.h"
#include "ir/tensor.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

/// Reads the tensor of `type` and `shape` that `proto` keeps in a side file. The location must stay
/// inside `modelDir`: absolute paths and '..' that leave it are refused, so a model cannot make
/// Kiln read arbitrary files. The file must hold offset + length bytes and length must be the
/// tensor's byte size; both are checked before anything is allocated.
Expected<Tensor> readExternalData(const onnx::TensorProto& proto, DataType type, const Shape& shape,
                                  const std::string& what, const std::string& modelDir);

}  // namespace kiln::onnx_import
