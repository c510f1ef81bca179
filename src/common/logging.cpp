#include "common/logging.h"

#include <cstdio>

namespace kiln {

namespace {
const char* severityTag(ILogger::Severity severity) {
    switch (severity) {
        case ILogger::Severity::kINTERNAL_ERROR: return "[F]";
        case ILogger::Severity::kERROR: return "[E]";
        case ILogger::Severity::kWARNING: return "[W]";
        case ILogger::Severity::kINFO: return "[I]";
        case ILogger::Severity::kVERBOSE: return "[V]";
    }
    return "[?]";
}
}  // namespace

void StderrLogger::log(Severity severity, const char* message) noexcept {
    if (static_cast<int>(severity) > static_cast<int>(mMinSeverity)) return;
    std::fprintf(stderr, "%s %s\n", severityTag(severity), message);
}

void Logger::log(ILogger::Severity severity, const std::string& message) const {
    if (mSink) mSink->log(severity, message.c_str());
}

bool Logger::verboseEnabled() const {
    if (!mSink) return false;
    if (auto* stderrLogger = dynamic_cast<StderrLogger*>(mSink))
        return static_cast<int>(stderrLogger->minSeverity()) >= static_cast<int>(ILogger::Severity::kVERBOSE);
    return true;
}

}  // namespace kiln
