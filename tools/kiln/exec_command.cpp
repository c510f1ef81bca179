#include "exec_command.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli_app.h"
#include "cli_logger.h"
#include "common/file_io.h"
#include "common/logging.h"
#include "engine/plan_serializer.h"
#include "engine_build.h"
#include "exit_codes.h"
#include "inference_runner.h"
#include "kiln/builder.h"
#include "kiln/runtime.h"
#include "options_summary.h"

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

// --dumpLayerInfo / --exportLayerInfo: the engine's own report, {"Layers": [...], "Bindings": [...]}.
Status reportLayerInfo(const Engine& engine, const ReportingOptions& reporting, const Logger& log) {
    if (!reporting.dumpLayerInfo && reporting.exportLayerInfo.empty()) return Status::ok();
    std::string json = engine.getLayerInformationJson();
    if (reporting.dumpLayerInfo) {
        log.info("Layer information:");
        std::cout << json << std::endl;
    }
    if (!reporting.exportLayerInfo.empty()) {
        std::string text = json + "\n";
        KILN_RETURN_IF_ERROR(writeFile(reporting.exportLayerInfo, text.data(), text.size()).withContext("--exportLayerInfo"));
        log.info("Layer information written to '" + reporting.exportLayerInfo + "'");
    }
    return Status::ok();
}


}  // namespace

ExecCommand::ExecCommand(CLI::App& parent)
    : mApp(parent.add_subcommand("exec",
                                 "Build an engine from an ONNX model (or load one) and time inference, "
                                 "as trtexec does")) {
    mOptions.addOptions(*mApp);
    mApp->footer(
        "Build and Inference Shape Options:\n"
        "  Shapes given only for inference (--shapes) are also the build profile's min, opt and max; shapes given\n"
        "  only for the build use the profile's opt shapes at inference; --optShapes alone is also min and max;\n"
        "  when both are given, --shapes must lie inside the profile. Without any, every input must be static.\n"
        "  Deprecated flags are accepted and print their modern form once.\n\n"
        "Exit status: 0 on success; 1 when the command fails (model, engine, build, input data or "
        "inference); 2 for a malformed command line (unknown flag, malformed or conflicting values).");
}

bool ExecCommand::selected() const {
    return mApp->parsed();
}

int ExecCommand::run(const std::string& commandLine) {
    return runWithStatusLines("kiln_exec", commandLine, [this] { return runSteps(); });
}

int ExecCommand::runSteps() {
    CliLogger logger;
    Logger log(&logger);
    std::unique_ptr<Builder> builder = createBuilder(logger);
    // The GPU is chosen before anything touches CUDA: the CUDA backend opens the current device when it
    // is first used, which platformHasGpu() does.
    Expected<std::string> gpu = selectGpu(mOptions.system);
    Status parsed = gpu.status();
    if (parsed) parsed = mOptions.parse(builder->platformHasGpu());
    if (!parsed) {
        log.error(parsed.message());
        return kExitUsage;
    }
    logger.setVerbose(mOptions.reporting.verbose);
    for (const std::string& line : describeOptions(mOptions)) log.info(line);
    if (!gpu->empty()) log.info("Selected device: " + *gpu);
    for (const std::string& note : mOptions.notes()) log.warning(note);
    // Plugin creators must be registered before the model is parsed or the engine loaded.
    if (Status loaded = mOptions.system.loadPlugins(log); !loaded) {
        logger.reportFailure(loaded.message());
        return kExitFailure;
    }

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
    bool layerInfo = mOptions.reporting.dumpLayerInfo || !mOptions.reporting.exportLayerInfo.empty();
    if (mOptions.build.skipInference && !layerInfo) {
        log.info("Skipped inference (--skipInference)");
        return kExitSuccess;
    }

    std::unique_ptr<Runtime> runtime = createRuntime(logger);
    std::unique_ptr<Engine> engine = runtime->deserializeEngine(engineData, engineSize);
    if (!engine) {
        logger.reportFailure("cannot deserialize the engine (reason above)");
        return kExitFailure;
    }
    if (Status reported = reportLayerInfo(*engine, mOptions.reporting, log); !reported) {
        logger.reportFailure(reported.message());
        return kExitFailure;
    }
    if (mOptions.build.skipInference) {
        log.info("Skipped inference (--skipInference)");
        return kExitSuccess;
    }
    Status ran = runInference(*engine, mOptions, log);
    if (!ran) {
        logger.reportFailure(ran.message());
        return kExitFailure;
    }
    return kExitSuccess;
}

}  // namespace kiln::cli
