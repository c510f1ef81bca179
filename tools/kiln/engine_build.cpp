#include "engine_build.h"

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "build_progress_display.h"
#include "calibration_cache_file.h"
#include "common/file_io.h"
#include "input_shapes.h"
#include "kiln/parser.h"

namespace kiln::cli {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string precisionFlagList(const BuildOptions& build) {
    std::string list;
    auto add = [&](bool on, const char* flag) {
        if (!on) return;
        if (!list.empty()) list += ' ';
        list += flag;
    };
    add(build.fp16, "--fp16");
    add(build.bf16, "--bf16");
    add(build.int8, "--int8");
    add(build.noTF32, "--noTF32");
    add(build.stronglyTyped, "--stronglyTyped");
    return list;
}

/// --calib: the cache file becomes the build's calibrator (with --int8; the options check that).
Expected<std::unique_ptr<CalibrationCacheFile>> loadCalibrationCache(const BuildOptions& build, const Logger& log) {
    if (build.calibrationCache.empty()) return std::unique_ptr<CalibrationCacheFile>{};
    KILN_ASSIGN_OR_RETURN(auto cache, CalibrationCacheFile::load(build.calibrationCache));
    log.info("--calib: " + std::to_string(cache->scaleCount()) + " tensor scales read from '" + build.calibrationCache +
             "' ('" + cache->header() + "')");
    return cache;
}

/// The cache --timingCacheFile names: read when the file exists (a file that is not a timing cache is an
/// error, so nothing overwrites it), empty when it does not.
Expected<std::unique_ptr<TimingCache>> loadTimingCache(const std::string& path, const Logger& log) {
    std::ifstream probe(path);
    if (!probe) {
        log.info("--timingCacheFile: '" + path + "' does not exist yet: it is written after the build");
        return std::make_unique<TimingCache>();
    }
    KILN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, readFile(path));
    std::string error;
    auto cache = TimingCache::deserialize(std::string(bytes.begin(), bytes.end()), &error);
    if (!cache) return invalidArgument("--timingCacheFile: '" + path + "': " + error);
    log.info("--timingCacheFile: read " + std::to_string(cache->entries().size()) + " entries from '" + path + "'");
    return cache;
}

}  // namespace

Expected<std::unique_ptr<HostMemory>> buildEngine(const ExecOptions& options, Builder& builder, CliLogger& logger,
                                                  const NetworkEdit& edit) {
    Logger log(&logger);
    const std::string& path = options.model.onnxFile;
    auto network = builder.createNetwork();
    auto parser = createParser(*network, logger);
    if (!network || !parser) return internalError("cannot create the network or the ONNX parser");

    BuildProgressDisplay progress(logger, stdoutIsTerminal());
    log.info("Parsing ONNX model '" + path + "'");
    auto parseStart = std::chrono::steady_clock::now();
    {
        // The parser has no monitor of its own; its one step shows on the same display as the build's.
        progress.phaseStart("Parsing ONNX model", nullptr, 1);
        bool parsedOk = parser->parseFromFile(path.c_str());
        if (parsedOk) progress.stepComplete("Parsing ONNX model", 0);
        progress.phaseFinish("Parsing ONNX model");
        // The parser logs every error as it finds it (unsupported operators as one line listing them
        // all), so they are on the terminal already and are not printed a second time from getError().
        if (!parsedOk)
            return invalidModel("cannot import '" + path + "': " + std::to_string(parser->getNbErrors()) +
                                " error(s), listed above");
    }
    std::ostringstream parsed;
    parsed << "Parsed " << network->getNbLayers() << " layers, " << network->getNbInputs() << " input(s), "
           << network->getNbOutputs() << " output(s) in " << secondsSince(parseStart) << " s";
    log.info(parsed.str());
    if (edit) KILN_RETURN_IF_ERROR(edit(*network));

    std::vector<InputInfo> inputs;
    std::vector<std::pair<std::string, DataType>> inputTypes, outputTypes;
    for (int32_t i = 0; i < network->getNbInputs(); ++i) {
        ITensor* input = network->getInput(i);
        inputs.push_back({input->getName(), input->getDimensions(), Dims{}});
        inputTypes.emplace_back(input->getName(), input->getType());
    }
    for (int32_t i = 0; i < network->getNbOutputs(); ++i)
        outputTypes.emplace_back(network->getOutput(i)->getName(), network->getOutput(i)->getType());
    KILN_ASSIGN_OR_RETURN(auto reboundInputs,
                          resolveIoFormats("--inputIOFormats", options.build.inputFormats, inputTypes));
    KILN_ASSIGN_OR_RETURN(auto reboundOutputs,
                          resolveIoFormats("--outputIOFormats", options.build.outputFormats, outputTypes));
    auto profile = makeBuildProfile(inputs, options.build, options.inference.shapes, options.inference.batch);
    if (!profile) return profile.status();
    for (const std::string& warning : profile->warnings) log.warning(warning);

    auto config = builder.createBuilderConfig();
    options.build.applyTo(*config);
    for (const auto* rebound : {&reboundInputs, &reboundOutputs})
        for (const auto& [name, type] : *rebound) config->setIoType(name, type);
    config->setProgressMonitor(&progress);
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<CalibrationCacheFile> calibration, loadCalibrationCache(options.build, log));
    config->setInt8Calibrator(calibration.get());
    std::unique_ptr<TimingCache> timingCache;
    if (!options.build.timingCacheFile.empty()) {
        KILN_ASSIGN_OR_RETURN(timingCache, loadTimingCache(options.build.timingCacheFile, log));
        config->setTimingCache(timingCache.get());
    }
    if (profile->needed && config->addOptimizationProfile(&profile->profile) < 0)
        return internalError("the optimization profile derived from the shape options is invalid");
    // INT8 with a calibration cache is Q/DQ, which the CPU backend runs; the other flags it ignores.
    BuildOptions ignored = options.build;
    if (calibration) ignored.int8 = ignored.best = false;
    if (options.build.device == DeviceType::kCPU && ignored.anyPrecisionFlag())
        log.info("The CPU backend runs every layer in the model's own precision: " + precisionFlagList(ignored) +
                 " accepted and ignored");

    log.info(std::string("Building the engine for ") + (options.build.device == DeviceType::kCPU ? "cpu" : "cuda"));
    auto buildStart = std::chrono::steady_clock::now();
    std::unique_ptr<HostMemory> engine = builder.buildSerializedNetwork(*network, *config);
    if (!engine) return invalidModel("the engine build failed (reasons above)");
    std::ostringstream built;
    built << "Engine built in " << secondsSince(buildStart) << " s (" << engine->size() << " bytes)";
    log.info(built.str());

    if (timingCache) {
        const std::string text = timingCache->serialize();
        KILN_RETURN_IF_ERROR(writeFile(options.build.timingCacheFile, text.data(), text.size()));
        log.info("Timing cache saved to '" + options.build.timingCacheFile + "' (" +
                 std::to_string(timingCache->entries().size()) + " entries)");
    }
    if (!options.model.saveEngine.empty()) {
        KILN_RETURN_IF_ERROR(writeFile(options.model.saveEngine, engine->data(), engine->size()));
        log.info("Engine saved to '" + options.model.saveEngine + "'");
    }
    return engine;
}

}  // namespace kiln::cli
