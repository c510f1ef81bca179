#pragma once
// ONNX Constant nodes become graph constants (no IR node): their value is read here.

#include <string>

#include "common/status.h"
#include "ir/tensor.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

/// The tensor a Constant node holds in its one value attribute (value, value_float(s),
/// value_int(s)); string and sparse values are refused. Messages leave naming the node to the caller.
Expected<Tensor> constantNodeValue(onnx::NodeProto& node, const std::string& modelDir);

}  // namespace kiln::onnx_import
