#pragma once
// The top-level `kiln` application: description, --version, and how command-line errors end.

#include <functional>
#include <string>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace kiln::cli {

/// Sets the description, --version and the footer of `app`, and requires one subcommand.
void configureApp(CLI::App& app);

/// Handles CLI11's exception for --help / --version (prints them, exit 0) and for a malformed
/// command line (one "[E] ..." line on stderr, exit 2). Returns the exit status.
int handleParseError(const CLI::App& app, const CLI::ParseError& error);

/// Runs a command's `steps` between trtexec's "&&&& RUNNING Kiln.<tool> ... # <commandLine>" and
/// "&&&& PASSED" / "&&&& FAILED" lines, which scripts written for trtexec look for. Returns the exit
/// status `steps` returned.
int runWithStatusLines(const std::string& tool, const std::string& commandLine, const std::function<int()>& steps);

}  // namespace kiln::cli
