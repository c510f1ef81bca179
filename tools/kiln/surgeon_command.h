#pragma once
// `kiln surgeon`: edits an ONNX model and saves it (Polygraphy's `surgeon sanitize` shape), through
// the graph-surgery API (kiln/graph_surgeon.h).

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace kiln::cli {

class SurgeonCommand {
public:
    /// Adds the "surgeon" subcommand to `parent`.
    explicit SurgeonCommand(CLI::App& parent);
    bool selected() const;
    /// Runs after the command line was parsed; returns the process exit status.
    int run(const std::string& commandLine);

private:
    CLI::App* mApp;
    std::string mOnnx;
    std::string mSaveOnnx;
    std::vector<std::string> mRemoveNodes;
    bool mReconnect{false};
    bool mFoldConstants{false};
    uint64_t mFoldLimit{0};
    bool mCleanup{false};
    bool mRemoveUnusedInputs{false};
    bool mToposort{false};
    bool mVerbose{false};
};

}  // namespace kiln::cli
