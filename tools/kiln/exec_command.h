#pragma once
// `kiln exec`: trtexec's workflow. Build an engine from ONNX (or load one), then time inference.

#include <string>

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
    /// Runs after the command line was parsed; returns the process exit status. `commandLine` is
    /// echoed in trtexec's "&&&& RUNNING" / "&&&& PASSED" / "&&&& FAILED" lines, which scripts
    /// written for trtexec look for.
    int run(const std::string& commandLine);

private:
    int runSteps();

    CLI::App* mApp;
    ExecOptions mOptions;
};

}  // namespace kiln::cli
