#pragma once
// ONNX TensorProto -> kiln::Tensor: the element type, the shape, and the bytes from raw_data, from
// the typed fields or from an external-data file.

#include <cstdint>
#include <string>

#include "common/status.h"
#include "ir/tensor.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

/// Lower-case ONNX name of an element-type number ("float", "string", "float8e4m3fn", ...), or
/// "element type N" for a number onnx.proto does not define.
std::string onnxTypeName(int64_t onnxType);

/// Converts `proto`. `what` names the tensor in errors ("initializer 'w'", "attribute 'value' of
/// node 3 'C' (Constant)"); `modelDir` is the folder external data is relative to ("" when the
/// model was given in memory without one). raw_data is moved out of `proto` as it is read, so a
/// large model does not stay in memory twice.
Expected<Tensor> tensorFromProto(onnx::TensorProto& proto, const std::string& what, const std::string& modelDir);

}  // namespace kiln::onnx_import
