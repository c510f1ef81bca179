#pragma once
// `kiln compare`: Polygraphy's per-tensor comparison. Builds the engine under test from --onnx (any
// backend and precision kiln exec builds) and a reference engine (CPU, the model's precision, graph
// optimizations off), with every layer output marked as an engine output; runs both on the same
// inputs; and lists each tensor, in the model's order, with its largest difference. The first
// tensor outside the tolerance names the layer where the engines part.

#include <string>

#include "compare_options.h"

namespace CLI {
class App;
}

namespace kiln::cli {

class CompareCommand {
public:
    /// Adds the "compare" subcommand and its options to `parent`.
    explicit CompareCommand(CLI::App& parent);
    bool selected() const;
    /// Returns the exit status: 0 when every tensor matches, 1 when one does not or a step fails,
    /// 2 for a malformed command line. `commandLine` is echoed in the "&&&&" lines, as kiln exec does.
    int run(const std::string& commandLine);

private:
    int runSteps();

    CLI::App* mApp;
    CompareOptions mOptions;
};

}  // namespace kiln::cli
