#pragma once
// Runs one case in the calling process through the whole public path a user takes: the ONNX
// parser, the Builder (one optimization profile at the test inputs' exact shapes where the model
// has dynamic dimensions), serialization, Runtime::deserializeEngine, an ExecutionContext; then
// compares every output. The isolated scheduler calls it in a forked child, so a crash here only
// ends that child.

#include "conformance_case.h"
#include "kiln/builder.h"
#include "output_comparison.h"

namespace kiln::conformance {

struct ExecutionSettings {
    DeviceType device{DeviceType::kCPU};
    bool noGraphOptimization{false};
    Tolerance tolerance;
};

CaseResult executeCase(const CaseSpec& spec, const ExecutionSettings& settings);

/// The op type that a Kiln message blames ("node 3 'n' (TopK): ..." -> "TopK"), or "".
std::string opTypeNamedIn(const std::string& message);

}  // namespace kiln::conformance
