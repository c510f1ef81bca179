#include "system_options.h"

#include <CLI/CLI.hpp>

namespace kiln::cli {

void SystemOptions::addOptions(CLI::App& app) {
    app.add_option("--plugins", plugins, "Plugin libraries to load (not supported yet: an error) (default: none)")
        ->type_name("LIB")
        ->allow_extra_args(false)
        ->group("System");
}

Status SystemOptions::parse() const {
    if (!plugins.empty())
        return unsupported("--plugins: loading plugin libraries is not supported yet (asked for '" + plugins.front() +
                           "')");
    return Status::ok();
}

}  // namespace kiln::cli
