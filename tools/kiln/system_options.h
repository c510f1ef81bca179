#pragma once
// System options of `kiln exec`: what the process loads besides the model.

#include <string>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
}

namespace kiln::cli {

struct SystemOptions {
    std::vector<std::string> plugins;  // --plugins: shared libraries with plugin creators

    /// Registers the flags in the "System" group of `app`.
    void addOptions(CLI::App& app);
    /// Plugin loading does not exist yet, so --plugins is accepted by the parser and refused here
    /// with a message saying so, rather than being reported as an unknown flag.
    Status parse() const;
};

}  // namespace kiln::cli
