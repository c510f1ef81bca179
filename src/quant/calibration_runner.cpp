#include "quant/calibration_runner.h"

#include <cstring>
#include <sstream>

#include "builder/build_progress.h"
#include "builder/engine_builder.h"
#include "engine/plan_serializer.h"
#include "kiln/runtime.h"

namespace kiln {

namespace {

/// The calibration engine's messages: problems pass through as they are; the progress of a build the
/// user did not ask for goes to the verbose log, marked as the calibration engine's.
class CalibrationEngineLogger : public ILogger {
public:
    explicit CalibrationEngineLogger(const Logger& log) : mLog(log) {}
    void log(Severity severity, const char* message) noexcept override {
        if (severity <= Severity::kWARNING) mLog.log(severity, std::string("INT8 calibration engine: ") + message);
        else if (mLog.verboseEnabled()) mLog.verbose(std::string("INT8 calibration engine: ") + message);
    }

private:
    const Logger& mLog;
};

bool isConcrete(const Dims& dims) {
    if (dims.nbDims < 0) return false;
    for (int32_t i = 0; i < dims.nbDims; ++i)
        if (dims.d[i] < 0) return false;
    return true;
}

size_t elementCount(const Dims& dims) {
    size_t n = 1;
    for (int32_t i = 0; i < dims.nbDims; ++i) n *= static_cast<size_t>(dims.d[i]);
    return n;
}

/// The calibration network: the network's own outputs (so nothing it computes is cut away) and every
/// tensor to calibrate, built as an FP32 CPU engine.
Expected<std::unique_ptr<HostMemory>> buildCalibrationEngine(const Graph& graph, const std::vector<std::string>& tensors,
                                                            const BuilderConfig& config, const Logger& engineLog) {
    std::unique_ptr<Graph> network = graph.clone();
    for (const std::string& name : tensors) {
        Value* v = network->findValue(name);
        if (!v) return internalError("INT8 calibration: tensor '" + name + "' is not in the network");
        if (!network->isGraphOutput(v) && !network->isGraphInput(v)) network->markOutput(v);
    }
    BuilderConfig fp32;  // no kINT8 and no calibrator: this build does not calibrate again
    fp32.setDefaultDeviceType(DeviceType::kCPU);
    for (int32_t p = 0; p < config.getNbOptimizationProfiles(); ++p)
        fp32.addOptimizationProfile(&config.getOptimizationProfile(p));
    ProgressPhase phase(nullptr, "INT8 calibration engine", nullptr, kPlanSteps);
    KILN_ASSIGN_OR_RETURN(EnginePlan plan, buildEnginePlan(*network, fp32, engineLog, phase));
    KILN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serializePlan(plan));
    return std::make_unique<HostMemory>(std::move(bytes));
}

/// An I/O tensor of the calibration engine, with its shape for the calibration runs.
struct Binding {
    std::string name;
    DataType type{DataType::kFLOAT};
    Dims dims;
    std::vector<uint8_t> storage;  // outputs only: the engine writes here
};

}  // namespace

Expected<std::map<std::string, AbsHistogram>> collectCalibrationStatistics(const Graph& graph,
                                                                          const std::vector<std::string>& tensors,
                                                                          const BuilderConfig& config,
                                                                          IInt8Calibrator& calibrator, const Logger& log) {
    CalibrationEngineLogger engineLogger(log);
    const Logger engineLog(&engineLogger);
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<HostMemory> bytes, buildCalibrationEngine(graph, tensors, config, engineLog));
    std::unique_ptr<Runtime> runtime = createRuntime(engineLogger);
    std::unique_ptr<Engine> engine = runtime->deserializeEngine(bytes->data(), bytes->size());
    if (!engine) return internalError("INT8 calibration: the calibration engine cannot be loaded (reason above)");
    std::unique_ptr<ExecutionContext> context = engine->createExecutionContext();
    if (!context) return internalError("INT8 calibration: no execution context for the calibration engine (reason above)");

    std::vector<Binding> inputs, outputs;
    for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
        const char* name = engine->getIOTensorName(i);
        Binding b{name, engine->getTensorDataType(name), engine->getTensorShape(name), {}};
        if (engine->getTensorIOMode(name) == TensorIOMode::kINPUT) {
            if (engine->isShapeInferenceIO(name))
                return unsupported("INT8 calibration: input '" + b.name +
                                   "' is a shape tensor; calibrating networks with shape-tensor inputs is not supported");
            if (!isConcrete(b.dims)) b.dims = engine->getProfileShape(name, 0, OptProfileSelector::kOPT);
            if (!isConcrete(b.dims) || !context->setInputShape(name, b.dims))
                return invalidArgument("INT8 calibration: input '" + b.name + "' has no shape to calibrate at: give an "
                                       "optimization profile (its opt shapes are the calibration batches' shapes)");
            inputs.push_back(std::move(b));
        } else {
            outputs.push_back(std::move(b));
        }
    }
    for (Binding& out : outputs) {
        out.dims = context->getTensorShape(out.name.c_str());
        if (!isConcrete(out.dims))
            return unsupported("INT8 calibration: the shape of '" + out.name +
                               "' depends on computed values; calibration needs shapes known before the run");
        out.storage.assign(std::max<size_t>(1, elementCount(out.dims) * dataTypeSize(out.type)), 0);
        if (!context->setTensorAddress(out.name.c_str(), out.storage.data()))
            return internalError("INT8 calibration: cannot bind output '" + out.name + "'");
    }

    std::vector<CalibrationInput> described;
    std::vector<const char*> names;
    std::ostringstream shapes;
    for (const Binding& in : inputs) {
        described.push_back({in.name.c_str(), in.type, in.dims});
        names.push_back(in.name.c_str());
        shapes << (names.size() > 1 ? ", " : "") << in.name << ":" << dimsToString(in.dims);
    }
    calibrator.setBatchInputs(described.data(), static_cast<int32_t>(described.size()));
    log.info("INT8 calibration: " + std::to_string(tensors.size()) + " tensors, batches of size " +
             std::to_string(calibrator.getBatchSize()) + " with inputs " + shapes.str());

    std::map<std::string, AbsHistogram> statistics;
    for (const std::string& name : tensors) statistics[name];
    std::vector<void*> bindings(inputs.size(), nullptr);
    size_t batches = 0;
    while (true) {
        std::fill(bindings.begin(), bindings.end(), nullptr);
        if (!calibrator.getBatch(bindings.data(), names.data(), static_cast<int32_t>(names.size()))) break;
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (!bindings[i])
                return invalidArgument("INT8 calibration: batch " + std::to_string(batches) +
                                       ": getBatch() gave no address for input '" + inputs[i].name + "'");
            if (!context->setTensorAddress(names[i], bindings[i]))
                return internalError("INT8 calibration: cannot bind input '" + inputs[i].name + "'");
        }
        if (!context->execute())
            return internalError("INT8 calibration: batch " + std::to_string(batches) + " failed to run (reason above)");
        for (auto& [name, histogram] : statistics) {
            const float* data = nullptr;
            size_t count = 0;
            for (size_t i = 0; i < inputs.size() && !data; ++i)
                if (inputs[i].name == name) {
                    data = static_cast<const float*>(bindings[i]);
                    count = elementCount(inputs[i].dims);
                }
            for (const Binding& out : outputs)
                if (!data && out.name == name) {
                    data = reinterpret_cast<const float*>(out.storage.data());
                    count = elementCount(out.dims);
                }
            if (!data) return internalError("INT8 calibration: tensor '" + name + "' is not an engine output");
            histogram.add(data, count);
        }
        ++batches;
        if (log.verboseEnabled()) log.verbose("INT8 calibration: batch " + std::to_string(batches) + " done");
    }
    if (batches == 0)
        return invalidArgument("INT8 calibration: the calibrator gave no batch (getBatch() returned false at once) and "
                               "no usable calibration cache: there is nothing to take dynamic ranges from");
    log.info("INT8 calibration: ran " + std::to_string(batches) + " batches");
    return statistics;
}

}  // namespace kiln
