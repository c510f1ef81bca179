#pragma once
// `kiln inspect FILE`: what an ONNX model or an engine file holds.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace kiln::cli {

class InspectCommand {
public:
    /// Adds the "inspect" subcommand to `parent`.
    explicit InspectCommand(CLI::App& parent);
    bool selected() const;
    /// Runs after the command line was parsed; returns the process exit status.
    int run();

private:
    CLI::App* mApp;
    std::string mPath;
    bool mLayerInfo{false};
    bool mVerbose{false};
    std::vector<std::string> mPluginLibraries;
};

}  // namespace kiln::cli
