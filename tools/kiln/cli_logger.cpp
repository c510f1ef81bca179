#include "cli_logger.h"

#include <cstdio>

namespace kiln::cli {

void CliLogger::log(Severity severity, const char* message) noexcept {
    if (static_cast<int>(severity) > static_cast<int>(minSeverity())) return;
    const char* tag = "[I]";
    FILE* stream = stdout;
    switch (severity) {
        case Severity::kINTERNAL_ERROR:
            tag = "[F]";
            stream = stderr;
            break;
        case Severity::kERROR:
            ++mErrorsLogged;
            tag = "[E]";
            stream = stderr;
            break;
        case Severity::kWARNING:
            tag = "[W]";
            stream = stderr;
            break;
        case Severity::kINFO:
            tag = "[I]";
            break;
        case Severity::kVERBOSE:
            tag = "[V]";
            break;
    }
    eraseTransientLine();
    // Flush stdout first so the two streams interleave in the order the messages were logged.
    std::fflush(stdout);
    std::fprintf(stream, "%s %s\n", tag, message);
    std::fflush(stream);
    if (!mTransientLine.empty()) {
        std::fputs(mTransientLine.c_str(), stdout);
        std::fflush(stdout);
    }
}

void CliLogger::eraseTransientLine() noexcept {
    // Carriage return, then ANSI "erase to end of line".
    if (!mTransientLine.empty()) std::fputs("\r\033[K", stdout);
}

void CliLogger::setTransientLine(const std::string& line) noexcept {
    eraseTransientLine();
    mTransientLine = line;
    std::fputs(mTransientLine.c_str(), stdout);
    std::fflush(stdout);
}

void CliLogger::reportFailure(const std::string& summary) noexcept {
    log(mErrorsLogged > 0 ? Severity::kINFO : Severity::kERROR, summary.c_str());
}

}  // namespace kiln::cli
