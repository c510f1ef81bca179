#include "builder/build_progress.h"

namespace kiln {

ProgressPhase::ProgressPhase(IProgressMonitor* monitor, std::string name, const ProgressPhase* parent,
                             int32_t nbSteps) noexcept
    : mMonitor(monitor), mName(std::move(name)) {
    if (mMonitor) mMonitor->phaseStart(mName.c_str(), parent ? parent->name().c_str() : nullptr, nbSteps);
}

ProgressPhase::~ProgressPhase() {
    if (mMonitor) mMonitor->phaseFinish(mName.c_str());
}

Status ProgressPhase::completeStep() {
    if (!mMonitor) return Status::ok();
    if (mMonitor->stepComplete(mName.c_str(), mNextStep++)) return Status::ok();
    return {StatusCode::kInvalidArgument, "the build was cancelled by the progress monitor during '" + mName + "'"};
}

}  // namespace kiln
