#pragma once
// Helpers for the option-unit tests: run CLI11 on an argument list as `kiln exec` would.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <string>
#include <vector>

namespace kiln::cli::test {

/// Parses `args` (no program name) with `app`; CLI11 errors propagate as CLI::ParseError.
inline void parseArgs(CLI::App& app, std::vector<std::string> args) {
    // CLI11 consumes a vector of arguments from its back.
    std::reverse(args.begin(), args.end());
    app.parse(args);
}

/// Registers `options` on a fresh app and parses `args` with it.
template <typename Options>
void parseInto(Options& options, const std::vector<std::string>& args) {
    CLI::App app;
    options.addOptions(app);
    parseArgs(app, args);
}

}  // namespace kiln::cli::test
