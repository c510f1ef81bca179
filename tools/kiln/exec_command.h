#pragma once
// `kiln exec`: trtexec's workflow. Build an engine from ONNX (or load one), then time inference.

#include "exec_options.h"

namespace CLI {
class App;
}

namespace kiln::cli {

class ExecCommand {
public:
    /// Adds the "exec" subcommand and its options to `parent`.
    explicit ExecCommand(CLI::App& parent);
    bool selected() const;
    /// Runs after the command line was parsed; returns the process exit status.
    int run();

private:
    CLI::App* mApp;
    ExecOptions mOptions;
};

}  // namespace kiln::cli
