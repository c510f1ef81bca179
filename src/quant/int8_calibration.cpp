#include "quant/int8_calibration.h"

#include <algorithm>

#include "quant/calibration_cache.h"
#include "quant/calibration_runner.h"
#include "quant/int8_qdq_insertion.h"

namespace kiln {

namespace {

/// The int8 amax a scale stands for (TensorRT's symmetric mapping of [-amax, amax] to [-127, 127]).
constexpr double kInt8Max = 127.0;

bool hasExplicitQuantization(const Graph& graph) {
    return std::any_of(graph.nodes().begin(), graph.nodes().end(), [](const auto& node) {
        return node->domain.empty() && (node->opType == "QuantizeLinear" || node->opType == "DequantizeLinear");
    });
}

/// "a, b, c and 4 more".
std::string listSome(const std::vector<std::string>& names) {
    constexpr size_t kShown = 5;
    std::string text;
    for (size_t i = 0; i < names.size() && i < kShown; ++i) text += (i ? ", '" : "'") + names[i] + "'";
    if (names.size() > kShown) text += " and " + std::to_string(names.size() - kShown) + " more";
    return text;
}

/// The scales of the calibrator's cache, when it has one written by the calibrator's algorithm. A cache
/// that cannot be parsed is an error (a damaged file must not silently cost accuracy).
Expected<std::optional<std::map<std::string, float>>> cachedScales(IInt8Calibrator& calibrator, const Logger& log) {
    size_t length = 0;
    const void* data = calibrator.readCalibrationCache(length);
    if (!data || length == 0) return std::optional<std::map<std::string, float>>{};
    KILN_ASSIGN_OR_RETURN(CalibrationTable table,
                          parseCalibrationCache(std::string_view(static_cast<const char*>(data), length)));
    const CalibrationAlgoType wanted = calibrator.getAlgorithm();
    // A header naming an algorithm Kiln lacks (TensorRT's LegacyCalibration) still carries usable scales.
    if (table.algorithm && *table.algorithm != wanted) {
        log.warning("INT8: the calibration cache's header '" + table.header + "' names another algorithm than the " +
                    "calibrator's (" + calibrationAlgoName(wanted) + "): calibrating again");
        return std::optional<std::map<std::string, float>>{};
    }
    log.info("INT8: " + std::to_string(table.scales.size()) + " scales read from the calibration cache ('" +
             table.header + "'); calibration skipped");
    return std::optional<std::map<std::string, float>>(std::move(table.scales));
}

Expected<std::map<std::string, float>> calibrate(const Graph& graph, const std::vector<std::string>& tensors,
                                                 const BuilderConfig& config, IInt8Calibrator& calibrator,
                                                 const Logger& log) {
    const CalibrationAlgoType algorithm = calibrator.getAlgorithm();
    const double percentile = calibrator.getPercentile();
    if (algorithm == CalibrationAlgoType::kPERCENTILE && !(percentile > 0 && percentile <= 100))
        return invalidArgument("INT8 calibration: the percentile must be in (0, 100], got " + std::to_string(percentile));
    KILN_ASSIGN_OR_RETURN(auto statistics, collectCalibrationStatistics(graph, tensors, config, calibrator, log));
    std::map<std::string, float> scales;
    for (const auto& [name, histogram] : statistics) {
        if (histogram.nonFiniteCount() > 0)
            log.warning("INT8 calibration: '" + name + "' held " + std::to_string(histogram.nonFiniteCount()) +
                        " NaN or infinite values; its range ignores them");
        const double amax = chooseAmax(histogram, algorithm, percentile);
        scales[name] = static_cast<float>(amax / kInt8Max);
        if (log.verboseEnabled())
            log.verbose("INT8 calibration: '" + name + "' amax " + std::to_string(amax) + " (max |x| " +
                        std::to_string(histogram.absMax()) + ")");
    }
    const std::string cache = formatCalibrationCache(algorithm, scales);
    calibrator.writeCalibrationCache(cache.data(), cache.size());
    log.info(std::string("INT8 calibration: ") + calibrationAlgoName(algorithm) + " ranges of " +
             std::to_string(scales.size()) + " tensors written to the calibration cache");
    return scales;
}

}  // namespace

Status applyInt8Calibration(Graph& graph, const BuilderConfig& config, const Logger& log) {
    if (!config.getFlag(BuilderFlag::kINT8)) return Status::ok();
    IInt8Calibrator* calibrator = config.getInt8Calibrator();
    if (hasExplicitQuantization(graph)) {
        if (calibrator) log.info("INT8: the network has its own QuantizeLinear/DequantizeLinear layers (explicit "
                                 "quantization): the calibrator is not used");
        return Status::ok();
    }
    if (!calibrator) {
        log.info("INT8: no calibrator and no calibration cache, so no dynamic ranges: every layer keeps its "
                 "precision (give a calibrator, or --calib with a calibration cache)");
        return Status::ok();
    }
    std::vector<std::string> tensors;
    for (const Value* v : quantizableActivations(graph)) tensors.push_back(v->name);
    if (tensors.empty()) {
        log.info("INT8: no Conv, ConvTranspose, MatMul or Gemm reads a float32 activation: nothing to quantize");
        return Status::ok();
    }

    KILN_ASSIGN_OR_RETURN(auto cached, cachedScales(*calibrator, log));
    std::map<std::string, float> scales;
    if (cached) {
        scales = std::move(*cached);
        std::vector<std::string> unknown, missing;
        for (const auto& [name, scale] : scales)
            if (!graph.findValue(name)) unknown.push_back(name);
        for (const std::string& name : tensors)
            if (!scales.count(name)) missing.push_back(name);
        if (!unknown.empty())
            log.warning("INT8: " + std::to_string(unknown.size()) + " tensors of the calibration cache are not in the "
                        "network (a cache of another model?): " + listSome(unknown));
        if (!missing.empty())
            log.warning("INT8: the calibration cache has no scale for " + std::to_string(missing.size()) +
                        " tensors; the layers reading them stay unquantized: " + listSome(missing));
    } else {
        KILN_ASSIGN_OR_RETURN(scales, calibrate(graph, tensors, config, *calibrator, log));
    }

    PassContext ctx{log, nullptr, {}};
    Int8QdqInsertion insertion(std::move(scales));
    KILN_ASSIGN_OR_RETURN(bool changed, insertion.run(graph, ctx));
    for (const std::string& change : ctx.changes) log.info(std::string(insertion.name()) + ": " + change);
    if (changed)
        log.info("INT8: Kiln has no INT8 kernels yet: the quantized layers compute in FP32 on INT8-rounded inputs "
                 "and weights (INT8's accuracy, not its speed)");
    return Status::ok();
}

}  // namespace kiln
