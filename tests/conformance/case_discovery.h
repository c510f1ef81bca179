#pragma once
// Finds the cases of a test-set folder: every sub-folder holding a model.onnx and at least one
// test_data_set_N folder (cases that only point at a download, like ONNX's "real" models, are not
// cases here).

#include <string>
#include <vector>

#include "common/status.h"
#include "conformance_case.h"

namespace kiln::conformance {

/// The cases under `setDirectory`, sorted by name; an error when the folder does not exist.
Expected<std::vector<CaseSpec>> discoverCases(const std::string& setName, const std::string& setDirectory);

/// input_0.pb, input_1.pb, ... (or output_*) of a data-set folder, ordered by their number.
std::vector<std::string> numberedProtoFiles(const std::string& dataSetDirectory, const std::string& prefix);

}  // namespace kiln::conformance
