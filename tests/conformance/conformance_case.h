#pragma once
// The vocabulary of the conformance runner: a case (one folder of an ONNX backend test set), what
// the runner knows about its model before running it, and the outcome of running it.

#include <string>
#include <vector>

namespace kiln::conformance {

/// One ONNX backend test case: <set folder>/<name>/model.onnx with test_data_set_*/ beside it.
struct CaseSpec {
    std::string setName;   // "node", "node-1.12", "pytorch-converted", ...
    std::string name;      // "test_abs"
    std::string directory; // the case's folder
    std::vector<std::string> dataSetDirectories;  // test_data_set_0, test_data_set_1, ... in order

    /// "node/test_abs": the key deny-list patterns and --filter are matched against.
    std::string qualifiedName() const { return setName + "/" + name; }
};

/// What the model says, read by the parent before any case runs (so that a crashing case still
/// reports its operators).
struct ModelSummary {
    std::vector<std::string> opTypes;  // distinct, in first-use order, subgraphs included; "domain::Op" outside ai.onnx
    std::vector<std::string> inputTypes;  // element types of the graph's tensor inputs ("float", "int64"), distinct
    int64_t opsetVersion{0};           // of the standard domain
    bool usesTrainingDomain{false};    // an op of ai.onnx.preview.training (Gradient, Adam, ...)
    std::string readError;             // non-empty when model.onnx could not be read
};

enum class Outcome { kPass, kFail, kError, kCrash, kTimeout, kSkipped };

/// "pass", "fail", "error", "crash", "timeout", "skipped".
const char* outcomeName(Outcome outcome);
/// The inverse of outcomeName; kError for an unknown name.
Outcome outcomeFromName(const std::string& name);

/// The result of one case (over all its data sets: the first that does not pass decides).
struct CaseResult {
    Outcome outcome{Outcome::kError};
    std::string message;    // first line of the reason; empty on pass
    std::string failingOp;  // the op type an error names, when it names one
    double seconds{0.0};
};

}  // namespace kiln::conformance
