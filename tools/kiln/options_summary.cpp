#include "options_summary.h"

#include <sstream>

namespace kiln::cli {

namespace {

const char* enabled(bool on) { return on ? "Enabled" : "Disabled"; }

std::string orNone(const std::string& text) { return text.empty() ? "(none)" : text; }

std::string shapeList(const ShapeSpecs& specs) {
    if (specs.empty()) return "(none)";
    std::string text;
    for (const auto& [name, dims] : specs) text += (text.empty() ? "" : ",") + name + ":" + describeDims(dims);
    return text;
}

std::string number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

std::string precision(const BuildOptions& build) {
    if (build.stronglyTyped) return "the model's types (--stronglyTyped)";
    std::string text = build.noTF32 ? "FP32" : "FP32+TF32";
    if (build.fp16) text += "+FP16";
    if (build.bf16) text += "+BF16";
    if (build.int8) text += "+INT8";
    return text;
}

}  // namespace

std::vector<std::string> describeOptions(const ExecOptions& options) {
    const ModelOptions& model = options.model;
    const BuildOptions& build = options.build;
    const InferenceOptions& inference = options.inference;
    const ReportingOptions& reporting = options.reporting;
    std::vector<std::string> lines;
    auto add = [&](const std::string& key, const std::string& value) { lines.push_back(key + ": " + value); };

    lines.push_back("=== Model Options ===");
    add("Format", model.onnxFile.empty() ? "engine" : "ONNX");
    add("Model", orNone(model.onnxFile.empty() ? model.loadEngine : model.onnxFile));
    add("Save engine", orNone(model.saveEngine));

    lines.push_back("=== Build Options ===");
    add("Backend", build.device == DeviceType::kGPU ? "cuda" : "cpu");
    add("Memory pool workspace",
        build.workspaceBytes ? number(static_cast<double>(*build.workspaceBytes) / (1024.0 * 1024.0)) + " MiB"
                             : "default");
    add("Precision", precision(build));
    add("Builder optimization level", std::to_string(build.optimizationLevel));
    add("avgTiming", std::to_string(build.avgTiming));
    add("Timing cache", build.noBuilderCache ? "Disabled" : orNone(build.timingCacheFile));
    add("Calibration", orNone(build.calibrationCache));
    add("Input formats", build.inputFormats.empty() ? "model types, chw" : std::to_string(build.inputFormats.size()) + " given");
    add("Output formats",
        build.outputFormats.empty() ? "model types, chw" : std::to_string(build.outputFormats.size()) + " given");
    add("Input build shapes", build.anyShapeFlag() ? "min " + shapeList(build.minShapes) + ", opt " +
                                                          shapeList(build.optShapes) + ", max " +
                                                          shapeList(build.maxShapes)
                                                    : (inference.shapes.empty() ? "model" : "from --shapes"));
    add("Skip inference", enabled(build.skipInference));

    lines.push_back("=== Inference Options ===");
    std::string runShapes = inference.shapes.empty() ? "profile opt shapes" : shapeList(inference.shapes);
    if (inference.shapes.empty() && inference.batch > 0)
        runShapes = "profile opt shapes, batch " + std::to_string(inference.batch) + " (--batch)";
    add("Input inference shapes", runShapes);
    add("Input data", inference.loadInputs.empty() ? "random" : std::to_string(inference.loadInputs.size()) + " file(s)");
    add("Iterations", std::to_string(inference.iterations));
    add("Duration", number(inference.durationS) + "s (+ " + number(inference.warmUpMs) + "ms warm up)");
    add("Sleep time", number(inference.sleepTimeMs) + "ms");
    add("Inference Streams", std::to_string(inference.infStreams));
    add("ExposeDMA", enabled(inference.exposeDma));
    add("Data transfers", enabled(!inference.noDataTransfers));
    add("Spin-wait", enabled(inference.useSpinWait));
    add("Multithreading", enabled(inference.threads));
    add("CUDA Graph", enabled(inference.useCudaGraph));
    add("Separate profiling", enabled(inference.separateProfileRun));

    lines.push_back("=== Reporting Options ===");
    add("Verbose", enabled(reporting.verbose));
    add("Averages", std::to_string(reporting.avgRuns) + " inferences");
    std::string percentiles;
    for (double p : reporting.percentiles) percentiles += (percentiles.empty() ? "" : ",") + number(p);
    add("Percentiles", percentiles);
    add("Dump output", enabled(reporting.dumpOutput));
    add("Profile", enabled(reporting.profiling()));
    add("Dump layer info", enabled(reporting.dumpLayerInfo));
    add("Export timing to JSON file", orNone(reporting.exportTimes));
    add("Export output to JSON file", orNone(reporting.exportOutput));
    add("Export profile to JSON file", orNone(reporting.exportProfile));
    add("Export layer info to JSON file", orNone(reporting.exportLayerInfo));

    lines.push_back("=== System Options ===");
    add("Device", std::to_string(options.system.device));
    return lines;
}

}  // namespace kiln::cli
