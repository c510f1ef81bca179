#pragma once
/// \file logger.h
/// The logging interface that every Kiln object reports through (TensorRT's `ILogger` shape).

#include <cstdint>

namespace kiln {

/// Interface the application implements to receive Kiln's messages. Kiln never throws across its
/// API: a failing call returns false / nullptr and tells the logger why at kERROR.
class ILogger {
public:
    enum class Severity : int32_t {
        kINTERNAL_ERROR = 0,
        kERROR = 1,
        kWARNING = 2,
        kINFO = 3,
        kVERBOSE = 4,
    };
    virtual void log(Severity severity, const char* message) noexcept = 0;
    virtual ~ILogger() = default;
};

/// A logger that prints to stderr every message at or above `minSeverity` (kWARNING by default).
class StderrLogger : public ILogger {
public:
    explicit StderrLogger(Severity minSeverity = Severity::kWARNING) : mMinSeverity(minSeverity) {}
    void log(Severity severity, const char* message) noexcept override;
    void setMinSeverity(Severity severity) noexcept { mMinSeverity = severity; }
    Severity minSeverity() const noexcept { return mMinSeverity; }

private:
    Severity mMinSeverity;
};

}  // namespace kiln
