#pragma once
// Every option of `kiln exec`, one unit per concern, and the checks that span units.

#include <string>
#include <vector>

#include "build_options.h"
#include "common/status.h"
#include "inference_options.h"
#include "model_options.h"
#include "reporting_options.h"
#include "retired_options.h"
#include "system_options.h"

namespace CLI {
class App;
}

namespace kiln::cli {

struct ExecOptions {
    ModelOptions model;
    BuildOptions build;
    InferenceOptions inference;
    ReportingOptions reporting;
    SystemOptions system;
    RetiredOptions retired;  // trtexec flags Kiln refuses with a reason; hidden from --help

    /// Registers every unit's flags on `app`, one help group each.
    void addOptions(CLI::App& app);
    /// Parses every unit, then checks combinations across units.
    Status parse(bool gpuAvailable);
    /// The units' notes (deprecated flags, ignored flags), one line each.
    std::vector<std::string> notes() const;

private:
    std::vector<std::string> mNotes;
};

}  // namespace kiln::cli
