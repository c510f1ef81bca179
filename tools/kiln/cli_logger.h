#pragma once
// The CLI's logger: trtexec's "[E]/[W]/[I]/[V]" prefixes, problems on stderr and the report on
// stdout, so that `kiln exec ... > report.txt` still shows errors on the terminal.

#include "kiln/logger.h"

namespace kiln::cli {

class CliLogger : public StderrLogger {
public:
    // Derives from StderrLogger so that the library's verboseEnabled() check sees the threshold and
    // skips formatting verbose messages that would be dropped.
    CliLogger() : StderrLogger(Severity::kINFO) {}
    void log(Severity severity, const char* message) noexcept override;
    void setVerbose(bool verbose) noexcept { setMinSeverity(verbose ? Severity::kVERBOSE : Severity::kINFO); }
};

}  // namespace kiln::cli
