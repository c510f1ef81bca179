#include "build_progress_display.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "common/logging.h"

namespace kiln::cli {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

bool stdoutIsTerminal() {
    return isatty(fileno(stdout)) == 1;
}

BuildProgressDisplay::BuildProgressDisplay(CliLogger& logger, bool interactive)
    : mLogger(logger), mInteractive(interactive) {}

BuildProgressDisplay::~BuildProgressDisplay() {
    if (mInteractive) mLogger.setTransientLine("");
}

void BuildProgressDisplay::phaseStart(const char* phaseName, const char* parentPhase, int32_t nbSteps) noexcept {
    mPhases.push_back({phaseName ? phaseName : "", nbSteps, 0, std::chrono::steady_clock::now()});
    if (mInteractive) {
        redraw();
        return;
    }
    std::ostringstream line;
    line << "[build] " << statusLine() << " started";
    Logger(&mLogger).info(line.str());
}

bool BuildProgressDisplay::stepComplete(const char* phaseName, int32_t step) noexcept {
    for (Phase& phase : mPhases)
        if (phase.name == phaseName) phase.stepsDone = step + 1;
    if (mInteractive) redraw();
    return true;
}

void BuildProgressDisplay::phaseFinish(const char* phaseName) noexcept {
    // Phases finish innermost first; search from the back in case a monitor user nests names twice.
    for (auto it = mPhases.rbegin(); it != mPhases.rend(); ++it) {
        if (it->name != phaseName) continue;
        if (!mInteractive) {
            std::ostringstream line;
            line << "[build] " << statusLine() << " finished in " << secondsSince(it->start) << " s";
            Logger(&mLogger).info(line.str());
        }
        mPhases.erase(std::next(it).base());
        break;
    }
    if (mInteractive) redraw();
}

std::string BuildProgressDisplay::statusLine() const {
    std::ostringstream line;
    for (size_t i = 0; i < mPhases.size(); ++i) {
        const Phase& phase = mPhases[i];
        if (i > 0) line << " > ";
        line << phase.name;
        if (phase.nbSteps > 0) line << " " << phase.stepsDone << "/" << phase.nbSteps;
    }
    return line.str();
}

void BuildProgressDisplay::redraw() {
    if (mPhases.empty()) {
        mLogger.setTransientLine("");
        return;
    }
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, " | %.1f s", secondsSince(mPhases.front().start));
    mLogger.setTransientLine(statusLine() + elapsed);
}

}  // namespace kiln::cli
