#pragma once
// System options of `kiln exec`: which GPU runs the engine and what the process loads besides the model.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
}

namespace kiln::cli {

struct SystemOptions {
    int32_t device{0};                 // --device: GPU index
    std::vector<std::string> plugins;  // --plugins: shared libraries with plugin creators

    /// Registers the flags in the "System Options" group of `app`.
    void addOptions(CLI::App& app);
    /// `gpuAvailable` (Builder::platformHasGpu()) bounds --device: Kiln drives GPU 0 only, and none
    /// without a usable GPU unless the engine runs on the CPU (--device=0 is then accepted and
    /// meaningless, as trtexec's default is). Plugin loading does not exist, so --plugins is
    /// accepted by the parser and refused here with a message saying so, rather than being
    /// reported as an unknown flag.
    Status parse() const;
};

}  // namespace kiln::cli
