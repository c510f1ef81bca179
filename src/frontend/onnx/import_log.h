#pragma once
// The wording of the importer's log, in the style of seed 001's TensorRT verbose log:
//   Parsing node 3 'Squeeze_3' [Squeeze]
//    [Squeeze] inputs: [5 -> (1, 5, 1, 1)[float]], [Squeeze_3_axes -> (1)[int64]],
//    Registering layer: Squeeze_3 [Squeeze]
//    [Squeeze] outputs: [6 -> (1, 5, 1)[float]],

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::onnx_import {

/// "5 -> (1, 5, 1, 1)[float]", or "5 -> (?)" while the type is unknown.
std::string describeValue(const Value& value);
/// "[a -> (1)[float]], [b -> (2, 3)[int64]]," with "[(omitted)]" for an omitted optional value.
std::string describeValues(const std::vector<Value*>& values);
/// One line: ONNX nodes imported, IR nodes made, and the inputs and outputs with their shapes.
std::string importSummary(const Graph& graph, int64_t onnxNodes, int64_t opset);

}  // namespace kiln::onnx_import
