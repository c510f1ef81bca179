#include "exec_command.h"

#include <CLI/CLI.hpp>

#include "cli_logger.h"
#include "common/logging.h"
#include "engine/plan_serializer.h"
#include "engine_build.h"
#include "exit_codes.h"
#include "file_io.h"
#include "inference_runner.h"
#include "kiln/builder.h"
#include "kiln/runtime.h"

namespace kiln::cli {

namespace {

int printPlanVersion(const std::vector<uint8_t>& bytes, CliLogger& logger) {
    Logger log(&logger);
    auto header = readPlanHeader(bytes.data(), bytes.size());
    if (!header) {
        logger.reportFailure(header.status().message());
        return kExitFailure;
    }
    log.info("Plan was built by Kiln " + header->kilnVersion + " (plan format version " +
             std::to_string(header->formatVersion) + ") for " + header->backend);
    return kExitSuccess;
}

}  // namespace

ExecCommand::ExecCommand(CLI::App& parent)
    : mApp(parent.add_subcommand("exec",
                                 "Build an engine from an ONNX model (or load one) and time inference, "
                                 "as trtexec does")) {
    mOptions.addOptions(*mApp);
    mApp->footer(
        "Exit status: 0 on success; 1 when the command fails (model, engine, build, input data or "
        "inference); 2 for a malformed command line (unknown flag, malformed or conflicting values).");
}

bool ExecCommand::selected() const {
    return mApp->parsed();
}

int ExecCommand::run() {
    CliLogger logger;
    Logger log(&logger);
    std::unique_ptr<Builder> builder = createBuilder(logger);
    Status parsed = mOptions.parse(builder->platformHasGpu());
    if (!parsed) {
        log.error(parsed.message());
        return kExitUsage;
    }
    logger.setVerbose(mOptions.reporting.verbose);
    for (const std::string& note : mOptions.notes()) log.warning(note);

    std::unique_ptr<HostMemory> built;
    std::vector<uint8_t> loaded;
    const void* engineData = nullptr;
    size_t engineSize = 0;
    if (!mOptions.model.onnxFile.empty()) {
        auto engine = buildEngine(mOptions, *builder, logger);
        if (!engine) {
            logger.reportFailure(engine.status().message());
            return kExitFailure;
        }
        built = std::move(engine).value();
        engineData = built->data();
        engineSize = built->size();
    } else {
        auto bytes = readFile(mOptions.model.loadEngine);
        if (!bytes) {
            logger.reportFailure(bytes.status().message());
            return kExitFailure;
        }
        loaded = std::move(bytes).value();
        if (mOptions.model.getPlanVersionOnly) return printPlanVersion(loaded, logger);
        engineData = loaded.data();
        engineSize = loaded.size();
        log.info("Loaded engine '" + mOptions.model.loadEngine + "' (" + std::to_string(engineSize) + " bytes)");
    }
    if (mOptions.build.skipInference) {
        log.info("Skipped inference (--skipInference)");
        return kExitSuccess;
    }

    std::unique_ptr<Runtime> runtime = createRuntime(logger);
    std::unique_ptr<Engine> engine = runtime->deserializeEngine(engineData, engineSize);
    if (!engine) {
        logger.reportFailure("cannot deserialize the engine (reason above)");
        return kExitFailure;
    }
    Status ran = runInference(*engine, mOptions, log);
    if (!ran) {
        logger.reportFailure(ran.message());
        return kExitFailure;
    }
    return kExitSuccess;
}

}  // namespace kiln::cli
