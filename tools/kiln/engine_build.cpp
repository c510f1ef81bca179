#include "engine_build.h"

#include <chrono>
#include <sstream>

#include "file_io.h"
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

}  // namespace

Expected<std::unique_ptr<HostMemory>> buildEngine(const ExecOptions& options, Builder& builder, ILogger& logger) {
    Logger log(&logger);
    const std::string& path = options.model.onnxFile;
    auto network = builder.createNetwork();
    auto parser = createParser(*network, logger);
    if (!network || !parser) return internalError("cannot create the network or the ONNX parser");

    log.info("Parsing ONNX model '" + path + "'");
    auto parseStart = std::chrono::steady_clock::now();
    // The parser logs every error as it finds it (unsupported operators as one line listing them
    // all), so they are on the terminal already and are not printed a second time from getError().
    if (!parser->parseFromFile(path.c_str()))
        return invalidModel("cannot import '" + path + "': " + std::to_string(parser->getNbErrors()) +
                            " error(s), listed above");
    std::ostringstream parsed;
    parsed << "Parsed " << network->getNbLayers() << " layers, " << network->getNbInputs() << " input(s), "
           << network->getNbOutputs() << " output(s) in " << secondsSince(parseStart) << " s";
    log.info(parsed.str());

    std::vector<InputInfo> inputs;
    for (int32_t i = 0; i < network->getNbInputs(); ++i) {
        ITensor* input = network->getInput(i);
        inputs.push_back({input->getName(), input->getDimensions(), Dims{}});
    }
    auto profile = makeBuildProfile(inputs, options.build, options.inference.shapes);
    if (!profile) return profile.status();
    for (const std::string& warning : profile->warnings) log.warning(warning);

    auto config = builder.createBuilderConfig();
    options.build.applyTo(*config);
    if (profile->needed && config->addOptimizationProfile(&profile->profile) < 0)
        return internalError("the optimization profile derived from the shape options is invalid");
    if (options.build.device == DeviceType::kCPU && options.build.anyPrecisionFlag())
        log.info("The CPU backend runs every layer in the model's own precision: " + precisionFlagList(options.build) +
                 " accepted and ignored");

    log.info(std::string("Building the engine for ") + (options.build.device == DeviceType::kCPU ? "cpu" : "cuda"));
    auto buildStart = std::chrono::steady_clock::now();
    std::unique_ptr<HostMemory> engine = builder.buildSerializedNetwork(*network, *config);
    if (!engine) return invalidModel("the engine build failed (reasons above)");
    std::ostringstream built;
    built << "Engine built in " << secondsSince(buildStart) << " s (" << engine->size() << " bytes)";
    log.info(built.str());

    if (!options.model.saveEngine.empty()) {
        KILN_RETURN_IF_ERROR(writeFile(options.model.saveEngine, engine->data(), engine->size()));
        log.info("Engine saved to '" + options.model.saveEngine + "'");
    }
    return engine;
}

}  // namespace kiln::cli
