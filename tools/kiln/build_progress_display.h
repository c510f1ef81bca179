#pragma once
// The build progress `kiln exec` shows: on a terminal, one status line that is redrawn in place
// ("Building engine 2/5 > Planning memory 1/2 | 3.1 s"); otherwise (a pipe, a log file) plain
// lines when each phase starts and finishes, so logs stay readable.

#include <chrono>
#include <string>
#include <vector>

#include "cli_logger.h"
#include "kiln/builder.h"

namespace kiln::cli {

class BuildProgressDisplay : public IProgressMonitor {
public:
    /// `interactive`: stdout is a terminal (see stdoutIsTerminal()).
    BuildProgressDisplay(CliLogger& logger, bool interactive);
    ~BuildProgressDisplay() override;

    void phaseStart(const char* phaseName, const char* parentPhase, int32_t nbSteps) noexcept override;
    bool stepComplete(const char* phaseName, int32_t step) noexcept override;
    void phaseFinish(const char* phaseName) noexcept override;

    /// The status line for the phases running now, outermost first ("" when none).
    std::string statusLine() const;

private:
    struct Phase {
        std::string name;
        int32_t nbSteps;
        int32_t stepsDone;
        std::chrono::steady_clock::time_point start;
    };
    void redraw();

    CliLogger& mLogger;
    bool mInteractive;
    std::vector<Phase> mPhases;  // the running phases, outermost first
};

/// Whether stdout is a terminal.
bool stdoutIsTerminal();

}  // namespace kiln::cli
