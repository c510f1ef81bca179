#pragma once
// Reads a case's model.onnx just far enough to list its operators and opset (no Kiln involved).

#include <string>

#include "conformance_case.h"

namespace kiln::conformance {

ModelSummary summarizeModel(const std::string& modelPath);

}  // namespace kiln::conformance
