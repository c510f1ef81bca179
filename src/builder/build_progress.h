#pragma once
// Build phases reported to the BuilderConfig's IProgressMonitor (if any). A phase is a scope: it
// starts when constructed and finishes when destroyed, also when the build fails inside it.

#include <cstdint>
#include <string>

#include "common/status.h"
#include "kiln/builder.h"

namespace kiln {

class ProgressPhase {
public:
    /// Starts `name` with `nbSteps` steps under `parent` (nullptr: a top-level phase). With a null
    /// `monitor` every call does nothing, so the builder need not check.
    ProgressPhase(IProgressMonitor* monitor, std::string name, const ProgressPhase* parent, int32_t nbSteps) noexcept;
    ~ProgressPhase();
    ProgressPhase(const ProgressPhase&) = delete;
    ProgressPhase& operator=(const ProgressPhase&) = delete;

    /// Reports the next step done; an error when the monitor asks to cancel the build.
    Status completeStep();

    IProgressMonitor* monitor() const noexcept { return mMonitor; }
    const std::string& name() const noexcept { return mName; }

private:
    IProgressMonitor* mMonitor;
    std::string mName;
    int32_t mNextStep{0};
};

}  // namespace kiln
