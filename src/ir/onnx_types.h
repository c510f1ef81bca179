#pragma once
// ONNX TensorProto.DataType numbers <-> Kiln's DataType. Cast's `to` attribute and the ONNX
// importer speak in these numbers; the rest of Kiln speaks DataType.

#include <cstdint>
#include <optional>

#include "kiln/types.h"

namespace kiln {

/// The DataType of an ONNX element-type number, or nullopt for types Kiln does not represent
/// (string, complex, float6).
std::optional<DataType> dataTypeFromOnnx(int64_t onnxType);

/// The ONNX element-type number of `type`.
int64_t dataTypeToOnnx(DataType type);

}  // namespace kiln
