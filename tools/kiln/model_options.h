#pragma once
// Model options of `kiln exec`: where the network comes from and where the engine goes.

#include <string>

#include "common/status.h"

namespace CLI {
class App;
}

namespace kiln::cli {

struct ModelOptions {
    std::string onnxFile;            // --onnx: build from this model
    std::string loadEngine;          // --loadEngine: deserialize this engine instead of building
    std::string saveEngine;          // --saveEngine: write the built engine here
    bool getPlanVersionOnly{false};  // --getPlanVersionOnly: print the --loadEngine file's version, stop

    /// Registers the flags in the "Model Options" group of `app`; their descriptions are the group's help.
    void addOptions(CLI::App& app);
    /// Checks the combination after CLI11 has read the command line: exactly one of --onnx and
    /// --loadEngine, --saveEngine only with --onnx, --getPlanVersionOnly only with --loadEngine.
    Status parse() const;
};

}  // namespace kiln::cli
