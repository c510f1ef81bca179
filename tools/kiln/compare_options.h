#pragma once
// Options of `kiln compare`: kiln exec's model, build, shape, input and system flags for the engine
// under test, the tolerance, which tensors to compare and where to write the report.

#include <string>

#include "exec_options.h"
#include "tensor_comparison.h"

namespace CLI {
class App;
}

namespace kiln::cli {

struct CompareOptions {
    ExecOptions exec;              // the engine under test, as kiln exec would build it
    Tolerance tolerance;           // --rtol, --atol
    bool allTensors{true};         // --compareTensors: all (every layer output) or outputs
    std::string exportComparison;  // --exportComparison: the per-tensor report as JSON

    void addOptions(CLI::App& app);
    Status parse(bool gpuAvailable);
    /// The reference engine's options: the same model, shapes and inputs, built for the CPU backend,
    /// which runs every layer in the model's own precision (no TF32, FP16, BF16 or INT8), with the graph
    /// optimizations off, so every layer runs as the model wrote it; nothing is saved.
    ExecOptions referenceOptions() const;

private:
    std::string mTensors{"all"};
};

}  // namespace kiln::cli
