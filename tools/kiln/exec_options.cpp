#include "exec_options.h"

namespace kiln::cli {

void ExecOptions::addOptions(CLI::App& app) {
    model.addOptions(app);
    build.addOptions(app);
    inference.addOptions(app);
    reporting.addOptions(app);
    system.addOptions(app);
    retired.addOptions(app);
}

Status ExecOptions::parse(bool gpuAvailable) {
    KILN_RETURN_IF_ERROR(retired.parse());
    KILN_RETURN_IF_ERROR(model.parse());
    KILN_RETURN_IF_ERROR(build.parse(gpuAvailable));
    KILN_RETURN_IF_ERROR(inference.parse());
    KILN_RETURN_IF_ERROR(reporting.parse());
    KILN_RETURN_IF_ERROR(system.parse());
    mNotes.clear();
    if (!model.loadEngine.empty() && (build.anyShapeFlag() || build.maxBatch > 0 || build.anyPrecisionFlag()))
        mNotes.push_back(
            "build options (shapes, --maxBatch, precision) are ignored with --loadEngine: the engine is "
            "already built");
    if (build.skipInference &&
        (!inference.loadInputs.empty() || reporting.dumpOutput || !reporting.exportOutput.empty() ||
         reporting.profiling() || !reporting.exportTimes.empty()))
        return invalidArgument(
            "--skipInference runs nothing, so --loadInputs, --dumpOutput, --exportOutput, --dumpProfile, "
            "--exportProfile and --exportTimes cannot be used");
    if (inference.separateProfileRun && !reporting.profiling())
        mNotes.push_back("--separateProfileRun has nothing to separate without --dumpProfile or --exportProfile");
    return Status::ok();
}

std::vector<std::string> ExecOptions::notes() const {
    std::vector<std::string> all = build.notes;
    all.insert(all.end(), inference.notes.begin(), inference.notes.end());
    const std::vector<std::string> systemNotes = system.notes();
    all.insert(all.end(), systemNotes.begin(), systemNotes.end());
    all.insert(all.end(), mNotes.begin(), mNotes.end());
    return all;
}

}  // namespace kiln::cli
