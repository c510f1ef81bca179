#pragma once
// The CLI's logger: trtexec's "[E]/[W]/[I]/[V]" prefixes, problems on stderr and the report on
// stdout, so that `kiln exec ... > report.txt` still shows errors on the terminal.

#include <string>

#include "kiln/logger.h"

namespace kiln::cli {

class CliLogger : public StderrLogger {
public:
    // Derives from StderrLogger so that the library's verboseEnabled() check sees the threshold and
    // skips formatting verbose messages that would be dropped.
    CliLogger() : StderrLogger(Severity::kINFO) {}
    void log(Severity severity, const char* message) noexcept override;
    void setVerbose(bool verbose) noexcept { setMinSeverity(verbose ? Severity::kVERBOSE : Severity::kINFO); }

    /// Reports why a command failed. The library logs its own reasons as errors; when one is on
    /// the terminal already, the summary is an info line, so each failure shows exactly one [E]
    /// line that a script (or a person) can take as the cause.
    void reportFailure(const std::string& summary) noexcept;

    /// A status line kept at the bottom of the terminal (build progress): every message erases it,
    /// prints itself and redraws it, so messages and progress never share a line. Only for a
    /// terminal on stdout; "" removes the line.
    void setTransientLine(const std::string& line) noexcept;

private:
    void eraseTransientLine() noexcept;

    int mErrorsLogged = 0;
    std::string mTransientLine;
};

}  // namespace kiln::cli
