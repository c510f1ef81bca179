#include "cli_app.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "exit_codes.h"
#include "kiln/builder.h"

namespace kiln::cli {

void configureApp(CLI::App& app) {
    app.name("kiln");
    app.description("Kiln: build optimized inference engines from ONNX models and run them");
    app.set_version_flag("--version", std::string("kiln ") + getVersion(), "Print the Kiln version and exit");
    app.require_subcommand(1);
    app.get_formatter()->column_width(44);
    app.footer(
        "Run 'kiln <command> --help' for a command's options.\n"
        "Exit status: 0 on success; 1 when a command fails; 2 for a malformed command line.");
}

int handleParseError(const CLI::App& app, const CLI::ParseError& error) {
    // CLI11 reports --help and --version as "errors" with exit code 0; let it print them.
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);
    std::fflush(stdout);
    std::fprintf(stderr, "[E] %s\n", error.what());
    std::fprintf(stderr, "Run 'kiln --help' or 'kiln <command> --help' for the options.\n");
    return kExitUsage;
}

int runWithStatusLines(const std::string& tool, const std::string& commandLine, const std::function<int()>& steps) {
    const std::string suffix = " Kiln." + tool + " [Kiln v" + getVersion() + "] # " + commandLine;
    std::cout << "&&&& RUNNING" << suffix << std::endl;
    const int status = steps();
    std::fflush(stderr);
    std::cout << "&&&& " << (status == kExitSuccess ? "PASSED" : "FAILED") << suffix << std::endl;
    return status;
}

}  // namespace kiln::cli
