#pragma once
// Internal logging: every component logs through the application's ILogger. A thread-local
// "current logger" would hide the dependency; instead objects carry a Logger reference.

#include <sstream>
#include <string>

#include "kiln/logger.h"

namespace kiln {

/// Thin wrapper over the application's ILogger with severity checks and stream-style helpers.
class Logger {
public:
    explicit Logger(ILogger* sink = nullptr) : mSink(sink) {}

    void log(ILogger::Severity severity, const std::string& message) const;
    void error(const std::string& m) const { log(ILogger::Severity::kERROR, m); }
    void warning(const std::string& m) const { log(ILogger::Severity::kWARNING, m); }
    void info(const std::string& m) const { log(ILogger::Severity::kINFO, m); }
    void verbose(const std::string& m) const { log(ILogger::Severity::kVERBOSE, m); }

    /// False when the sink is a StderrLogger that drops verbose messages, so callers can skip
    /// formatting work for a verbose log nobody reads.
    bool verboseEnabled() const;
    ILogger* sink() const { return mSink; }

private:
    ILogger* mSink;
};

}  // namespace kiln
