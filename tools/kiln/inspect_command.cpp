#include "inspect_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "backends/cpu/kernel_registry.h"
#include "cli_logger.h"
#include "common/file_io.h"
#include "common/logging.h"
#include "engine/plan_format.h"
#include "engine/plan_serializer.h"
#include "exit_codes.h"
#include "frontend/onnx/model_summary.h"
#include "kiln/builder.h"
#include "kiln/parser.h"
#include "kiln/plugin.h"
#include "kiln/runtime.h"
#include "system_options.h"
#include "kiln/timing_cache.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

// An engine file starts with the plan magic; a file holding only part of it is a truncated engine,
// which readPlanHeader reports as such.
bool looksLikeEngine(const std::vector<uint8_t>& bytes) {
    size_t n = std::min(bytes.size(), sizeof(kPlanMagic));
    return n > 0 && std::memcmp(bytes.data(), kPlanMagic, n) == 0;
}

// Which of the op's IR types have a CPU kernel (a node may still be refused for its dtypes or
// attributes; the build says which).
bool hasCpuKernels(const onnx_import::OnnxOpSummary& op) {
    const CpuKernelRegistry& kernels = CpuKernelRegistry::global();
    for (const std::string& irOp : op.irOps)
        if (!kernels.find(op.irDomain, irOp)) return false;
    return true;
}

/// Whether a registered plugin has the op's name (the ONNX importer then makes its nodes plugin layers).
bool hasPlugin(const onnx_import::OnnxOpSummary& op) {
    for (IPluginCreator* creator : getPluginRegistry().getAllCreators())
        if (op.opType == creator->getPluginName()) return true;
    return false;
}

void printModelSummary(const std::string& path, const onnx_import::OnnxModelSummary& model) {
    std::cout << "ONNX model: " << path << "\n"
              << "  IR version: " << model.irVersion << "\n"
              << "  producer: " << (model.producer.empty() ? "(none)" : model.producer) << "\n";
    if (!model.graphName.empty()) std::cout << "  graph: " << model.graphName << "\n";
    std::cout << "Opsets:";
    for (const auto& [domain, version] : model.opsets)
        std::cout << " " << (domain.empty() ? "ai.onnx" : domain) << "=" << version;
    std::cout << "\n";
    std::cout << "Inputs (" << model.inputs.size() << "):\n";
    for (const auto& input : model.inputs) std::cout << "  " << input.name << ": " << input.dtype << " " << input.shape << "\n";
    std::cout << "Outputs (" << model.outputs.size() << "):\n";
    for (const auto& output : model.outputs)
        std::cout << "  " << output.name << ": " << output.dtype << " " << output.shape << "\n";
    std::cout << "Initializers: " << model.initializers << "\n";
    std::cout << "Operators (" << model.nodes << " nodes, " << model.ops.size() << " types; import: Kiln's ONNX "
              << "importer reads it, cpu: the CPU backend has a kernel for it):\n";
    int unsupported = 0;
    for (const auto& op : model.ops) {
        std::string name = op.domain.empty() ? op.opType : op.domain + "::" + op.opType;
        if (!op.importable && hasPlugin(op)) {
            // The plugin's build part decides its backends and types when the network is built.
            std::cout << "  " << name << ": " << op.count << "  import as a plugin layer, cpu if the plugin runs there\n";
            continue;
        }
        bool cpu = op.importable && hasCpuKernels(op);
        if (!op.importable || !cpu) ++unsupported;
        std::cout << "  " << name << ": " << op.count << "  import " << (op.importable ? "yes" : "NO") << ", cpu "
                  << (cpu ? "yes" : "NO") << "\n";
    }
    std::cout << "Supported by Kiln: " << (model.ops.size() - static_cast<size_t>(unsupported)) << " of "
              << model.ops.size() << " operator types" << (unsupported ? " (see NO above)" : "") << "\n";
}

int inspectOnnx(const std::string& path, CliLogger& logger) {
    // The summary reads the file without importing it, so it lists the operators of models that
    // Kiln cannot import too.
    auto summary = onnx_import::summarizeOnnxModel(path);
    if (!summary) {
        logger.reportFailure("cannot read '" + path + "' as an ONNX model: " + summary.status().message());
        return kExitFailure;
    }
    printModelSummary(path, summary.value());
    bool importable = std::all_of(summary->ops.begin(), summary->ops.end(),
                                  [](const auto& op) { return op.importable || hasPlugin(op); });
    if (!importable) return kExitSuccess;

    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> network = builder->createNetwork();
    std::unique_ptr<Parser> parser = createParser(*network, logger);
    // The parser has logged each error already (see engine_build.cpp).
    if (!parser->parseFromFile(path.c_str())) {
        logger.reportFailure("cannot import '" + path + "': " + std::to_string(parser->getNbErrors()) +
                             " error(s), listed above");
        return kExitFailure;
    }
    std::map<std::string, int> histogram;
    for (int32_t i = 0; i < network->getNbLayers(); ++i) ++histogram[network->getLayer(i)->getType()];
    std::vector<std::pair<std::string, int>> ops(histogram.begin(), histogram.end());
    std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::cout << "Layers after import: " << network->getNbLayers() << "\n";
    for (const auto& [op, count] : ops) std::cout << "  " << op << ": " << count << "\n";
    return kExitSuccess;
}

int inspectEngine(const std::string& path, const std::vector<uint8_t>& bytes, CliLogger& logger, bool layerInfo) {
    auto header = readPlanHeader(bytes.data(), bytes.size());
    if (!header) {
        logger.reportFailure("'" + path + "': " + header.status().message());
        return kExitFailure;
    }
    std::cout << "Kiln engine: " << path << "\n"
              << "  format version: " << header->formatVersion << "\n"
              << "  Kiln version: " << header->kilnVersion << "\n"
              << "  backend: " << header->backend << "\n"
              << "  target: " << header->target << "\n"
              << "  size: " << bytes.size() << " bytes\n";
    std::unique_ptr<Runtime> runtime = createRuntime(logger);
    std::unique_ptr<Engine> engine = runtime->deserializeEngine(bytes.data(), bytes.size());
    if (!engine) {
        logger.reportFailure("cannot deserialize '" + path + "' (reason above)");
        return kExitFailure;
    }
    std::cout << "I/O tensors (" << engine->getNbIOTensors() << "):\n";
    for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
        const char* name = engine->getIOTensorName(i);
        bool input = engine->getTensorIOMode(name) == TensorIOMode::kINPUT;
        std::cout << "  " << (input ? "input  " : "output ") << name << ": "
                  << dataTypeName(engine->getTensorDataType(name)) << " " << describeDims(engine->getTensorShape(name))
                  << "\n";
    }
    std::cout << "Optimization profiles: " << engine->getNbOptimizationProfiles() << "\n";
    for (int32_t p = 0; p < engine->getNbOptimizationProfiles(); ++p) {
        for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
            const char* name = engine->getIOTensorName(i);
            Dims lo = engine->getProfileShape(name, p, OptProfileSelector::kMIN);
            if (lo.nbDims < 0) continue;
            std::cout << "  profile " << p << " " << name << ": min " << describeDims(lo) << ", opt "
                      << describeDims(engine->getProfileShape(name, p, OptProfileSelector::kOPT)) << ", max "
                      << describeDims(engine->getProfileShape(name, p, OptProfileSelector::kMAX)) << "\n";
        }
        std::cout << "  profile " << p << " activation memory: " << engine->getDeviceMemorySizeForProfile(p)
                  << " bytes\n";
    }
    std::cout << "Layers (" << engine->getNbLayers() << "):\n";
    // The layer report is JSON whose fields may grow; read only the ones shown, each if present.
    nlohmann::json info = nlohmann::json::parse(engine->getLayerInformationJson(), nullptr, false);
    if (info.is_object() && info.contains("Layers") && info["Layers"].is_array()) {
        for (const auto& layer : info["Layers"]) {
            if (!layer.is_object()) continue;
            std::cout << "  " << layer.value("Name", std::string("?")) << " ("
                      << layer.value("LayerType", std::string("?")) << ")";
            if (layer.contains("TacticName")) std::cout << " tactic " << layer.value("TacticName", std::string());
            if (layer.contains("Precision")) std::cout << ", " << layer.value("Precision", std::string());
            std::cout << "\n";
        }
    }
    std::cout << "Device memory (largest profile): " << engine->getDeviceMemorySize() << " bytes\n";
    if (layerInfo) std::cout << engine->getLayerInformationJson() << "\n";
    return kExitSuccess;
}

/// A timing cache (kiln exec --timingCacheFile): its entries, grouped by target.
int inspectTimingCache(const std::string& path, const std::string& text, CliLogger& logger) {
    std::string error;
    auto cache = TimingCache::deserialize(text, &error);
    if (!cache) {
        logger.reportFailure("'" + path + "' is neither an ONNX model, an engine nor a timing cache: " + error);
        return kExitFailure;
    }
    std::cout << "Timing cache: " << path << "\n" << "Entries: " << cache->entries().size() << "\n";
    for (const auto& [key, entry] : cache->entries())
        std::cout << "  " << key << "\n    -> " << entry.tacticName << ", " << entry.milliseconds << " ms (fastest of "
                  << entry.candidates << ")\n";
    return kExitSuccess;
}

}  // namespace

InspectCommand::InspectCommand(CLI::App& parent)
    : mApp(parent.add_subcommand("inspect", "Show what an ONNX model or a Kiln engine file holds")) {
    mApp->add_option("file", mPath,
                     "ONNX model, engine file (told apart by the engine magic 'KILNPLAN') or timing cache (JSON)")
        ->required()
        ->type_name("FILE");
    mApp->add_flag("--layerInfo", mLayerInfo, "For an engine: also print the layer list as JSON (default: off)");
    mApp->add_flag("--verbose", mVerbose, "Log everything, e.g. the ONNX import per node (default: off)");
    mApp->add_option("--staticPlugins", mPluginLibraries,
                     "Plugin library to load first: ONNX operators its plugins implement count as supported "
                     "(repeatable; default: none)")
        ->type_name("LIB")
        ->allow_extra_args(false);
    mApp->footer(
        "Exit status: 0 on success; 1 when the file cannot be read, imported or deserialized; 2 for a "
        "malformed command line.");
}

bool InspectCommand::selected() const {
    return mApp->parsed();
}

int InspectCommand::run() {
    CliLogger logger;
    // The report is inspect's output; the library's progress messages would only interleave with it.
    logger.setMinSeverity(mVerbose ? ILogger::Severity::kVERBOSE : ILogger::Severity::kWARNING);
    SystemOptions plugins;
    plugins.staticPlugins = mPluginLibraries;
    if (Status loaded = plugins.loadPlugins(Logger(&logger)); !loaded) {
        logger.reportFailure(loaded.message());
        return kExitFailure;
    }
    // Only the magic is read first: an ONNX model may be gigabytes, and the parser reads it itself.
    auto prefix = readFilePrefix(mPath, sizeof(kPlanMagic));
    if (!prefix) {
        logger.reportFailure(prefix.status().message());
        return kExitFailure;
    }
    if (looksLikeEngine(prefix.value())) {
        auto bytes = readFile(mPath);
        if (!bytes) {
            logger.reportFailure(bytes.status().message());
            return kExitFailure;
        }
        return inspectEngine(mPath, bytes.value(), logger, mLayerInfo);
    }
    if (!prefix.value().empty() && prefix.value()[0] == '{') {  // JSON: no ONNX model starts with '{'
        auto bytes = readFile(mPath);
        if (!bytes) {
            logger.reportFailure(bytes.status().message());
            return kExitFailure;
        }
        return inspectTimingCache(mPath, std::string(bytes.value().begin(), bytes.value().end()), logger);
    }
    if (mLayerInfo) Logger(&logger).warning("--layerInfo applies to engine files only; '" + mPath + "' is not one");
    return inspectOnnx(mPath, logger);
}

}  // namespace kiln::cli
