// `kiln`: the command-line tool. Each subcommand and each options unit lives in the kiln_cli
// library, where it is tested; this file only dispatches.

#include <CLI/CLI.hpp>
#include <string>

#include "cli_app.h"
#include "compare_command.h"
#include "exec_command.h"
#include "inspect_command.h"
#include "surgeon_command.h"

int main(int argc, char** argv) {
    CLI::App app;
    kiln::cli::configureApp(app);
    kiln::cli::ExecCommand exec(app);
    kiln::cli::InspectCommand inspect(app);
    kiln::cli::CompareCommand compare(app);
    kiln::cli::SurgeonCommand surgeon(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return kiln::cli::handleParseError(app, error);
    }
    std::string commandLine;
    for (int i = 0; i < argc; ++i) commandLine += (i ? " " : "") + std::string(argv[i]);
    if (exec.selected()) return exec.run(commandLine);
    if (compare.selected()) return compare.run(commandLine);
    if (surgeon.selected()) return surgeon.run(commandLine);
    return inspect.run();
}
