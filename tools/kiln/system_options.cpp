#include "system_options.h"

#include <CLI/CLI.hpp>

namespace kiln::cli {

void SystemOptions::addOptions(CLI::App& app) {
    const char* group = "System Options";
    app.add_option("--device", device, "GPU index that builds and runs the engine; Kiln drives GPU 0 (default: 0)")
        ->type_name("N")
        ->group(group);
    app.add_option("--plugins", plugins,
                   "Deprecated (trtexec's modern form: --staticPlugins); plugin libraries cannot be loaded: an "
                   "error (default: none)")
        ->type_name("LIB")
        ->allow_extra_args(false)
        ->group(group);
}

Status SystemOptions::parse() const {
    if (device < 0) return invalidArgument("--device must be a GPU index (0, 1, ...), got " + std::to_string(device));
    // The CUDA backend opens the first visible GPU; choose another one with CUDA_VISIBLE_DEVICES.
    if (device > 0)
        return unsupported("--device=" + std::to_string(device) +
                           ": Kiln drives GPU 0 only; select that GPU with CUDA_VISIBLE_DEVICES=" +
                           std::to_string(device) + " and --device=0");
    if (!plugins.empty())
        return unsupported("--plugins (deprecated; trtexec's modern form is --staticPlugins): loading plugin "
                           "libraries is not supported yet (asked for '" +
                           plugins.front() + "')");
    return Status::ok();
}

}  // namespace kiln::cli
