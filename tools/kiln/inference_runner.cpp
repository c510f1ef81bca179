#include "inference_runner.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <sstream>

#include "inference_io.h"
#include "input_data.h"
#include "input_shapes.h"
#include "latency_stats.h"
#include "output_export.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Random inputs are the same on every run, so two engines can be compared by their outputs.
constexpr uint64_t kInputSeed = 0x4b494c4e;
// Buffers are aligned for the widest vector loads the CPU kernels use.
constexpr size_t kBufferAlignment = 64;
constexpr int64_t kDumpedValues = 32;

struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(kBufferAlignment)); }
};
using Buffer = std::unique_ptr<uint8_t[], AlignedDelete>;

// At least one byte, so that an empty tensor still has a distinct, non-null address.
Buffer allocateBuffer(size_t bytes) {
    size_t size = bytes == 0 ? 1 : bytes;
    return Buffer(new (std::align_val_t(kBufferAlignment)) uint8_t[size]);
}

double msBetween(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

struct IoTensor {
    std::string name;
    DataType dtype;
    Dims dims;
    Buffer buffer;
};

Expected<std::vector<IoTensor>> prepareInputs(Engine& engine, ExecutionContext& context, const ExecOptions& options,
                                              const Logger& log) {
    std::vector<InputInfo> infos;
    for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
        const char* name = engine.getIOTensorName(i);
        if (engine.getTensorIOMode(name) != TensorIOMode::kINPUT) continue;
        // Run-time shapes default to profile 0's opt shapes, as trtexec does.
        Dims opt;
        opt.nbDims = -1;
        if (engine.getNbOptimizationProfiles() > 0) opt = engine.getProfileShape(name, 0, OptProfileSelector::kOPT);
        infos.push_back({name, engine.getTensorShape(name), opt});
    }
    for (const NameValue& load : options.inference.loadInputs) {
        bool found = false;
        for (const InputInfo& info : infos) found = found || info.name == load.name;
        if (!found)
            return invalidArgument("--loadInputs names '" + load.name + "', which is not an input of the engine");
    }
    auto shapes = chooseInferenceShapes(infos, options.inference);
    if (!shapes) return shapes.status();

    std::mt19937_64 rng(kInputSeed);
    std::vector<IoTensor> inputs;
    for (const auto& [name, dims] : shapes.value()) {
        if (!context.setInputShape(name.c_str(), dims))
            return invalidArgument("cannot run input '" + name + "' with shape " + describeDims(dims) +
                                   " (reason above)");
        DataType dtype = engine.getTensorDataType(name.c_str());
        std::vector<uint8_t> data;
        std::string source = "random data";
        const NameValue* load = nullptr;
        for (const NameValue& entry : options.inference.loadInputs)
            if (entry.name == name) load = &entry;
        if (load) {
            auto loaded = loadInputFile(name, dtype, dims, load->value);
            if (!loaded) return loaded.status();
            data = std::move(loaded).value();
            source = "'" + load->value + "'";
        } else {
            data = randomInput(dtype, elementCount(dims), rng);
        }
        log.info("Input '" + name + "': " + dataTypeName(dtype) + " " + describeDims(dims) + " from " + source);
        IoTensor tensor{name, dtype, dims, allocateBuffer(data.size())};
        if (!data.empty()) std::memcpy(tensor.buffer.get(), data.data(), data.size());
        inputs.push_back(std::move(tensor));
    }
    return inputs;
}

Expected<std::vector<IoTensor>> prepareOutputs(Engine& engine, ExecutionContext& context) {
    std::vector<IoTensor> outputs;
    for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
        const char* name = engine.getIOTensorName(i);
        if (engine.getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
        Dims dims = context.getTensorShape(name);
        bool known = dims.nbDims >= 0;
        for (int32_t d = 0; known && d < dims.nbDims; ++d) known = dims.d[d] >= 0;
        if (!known)
            return unsupported(std::string("output '") + name + "' has a data-dependent shape (" + dimsToString(dims) +
                               "), which kiln exec cannot run yet");
        DataType dtype = engine.getTensorDataType(name);
        size_t bytes = static_cast<size_t>(elementCount(dims)) * dataTypeSize(dtype);
        outputs.push_back({name, dtype, dims, allocateBuffer(bytes)});
    }
    return outputs;
}

void printSummary(const std::vector<double>& latenciesMs, double walltimeMs, const ReportingOptions& reporting,
                  const Logger& log) {
    if (reporting.verbose) {
        for (size_t start = 0; start < latenciesMs.size(); start += static_cast<size_t>(reporting.avgRuns)) {
            size_t end = std::min(latenciesMs.size(), start + static_cast<size_t>(reporting.avgRuns));
            double sum = 0;
            for (size_t i = start; i < end; ++i) sum += latenciesMs[i];
            std::ostringstream line;
            line << "Average on " << end - start << " runs - latency: " << sum / static_cast<double>(end - start)
                 << " ms";
            log.verbose(line.str());
        }
    }
    double computeMs = 0;
    for (double ms : latenciesMs) computeMs += ms;
    LatencyStats stats = computeLatencyStats(latenciesMs, reporting.percentiles);
    std::ostringstream throughput, walltime, compute;
    throughput << "Throughput: " << static_cast<double>(latenciesMs.size()) / (walltimeMs / 1000.0) << " qps";
    walltime << "Total Host Walltime: " << walltimeMs / 1000.0 << " s";
    compute << "Total Compute Time: " << computeMs / 1000.0 << " s";
    log.info("=== Performance summary ===");
    log.info(throughput.str());
    log.info("Latency: " + formatLatencyStats(stats));
    log.info(walltime.str());
    log.info(compute.str());
}

}  // namespace

Status runInference(Engine& engine, const ExecOptions& options, const Logger& log) {
    std::unique_ptr<InferenceIo> io;
    if (std::string(engine.getBackendName()) == "cpu") {
        io = createHostInferenceIo();
    } else {
        auto cudaIo = createCudaInferenceIo();
        if (!cudaIo) return cudaIo.status();
        io = std::move(cudaIo).value();
    }
    std::unique_ptr<ExecutionContext> context = engine.createExecutionContext();
    if (!context) return internalError("cannot create an execution context (reason above)");

    auto inputs = prepareInputs(engine, *context, options, log);
    if (!inputs) return inputs.status();
    if (!context->allInputDimensionsSpecified()) return invalidArgument("not every input shape is set");
    auto outputs = prepareOutputs(engine, *context);
    if (!outputs) return outputs.status();
    std::vector<HostBinding> bindings[2];
    for (int g = 0; g < 2; ++g)
        for (IoTensor& tensor : g == 0 ? inputs.value() : outputs.value())
            bindings[g].push_back({tensor.name, tensor.buffer.get(),
                                   static_cast<size_t>(elementCount(tensor.dims)) * dataTypeSize(tensor.dtype)});
    KILN_RETURN_IF_ERROR(io->bind(*context, bindings[0], bindings[1]));

    const InferenceOptions& inference = options.inference;
    auto warmUpStart = Clock::now();
    int64_t warmUpRuns = 0;
    while (msBetween(warmUpStart, Clock::now()) < inference.warmUpMs) {
        if (auto run = io->runOnce(*context); !run) return run.status().withContext("warm-up");
        ++warmUpRuns;
    }
    std::ostringstream warm;
    warm << "Warm-up: " << warmUpRuns << " runs in " << msBetween(warmUpStart, Clock::now()) << " ms";
    log.info(warm.str());

    std::vector<double> latenciesMs;
    std::vector<double> gpuComputeMs;
    auto start = Clock::now();
    auto last = start;
    while (static_cast<int64_t>(latenciesMs.size()) < inference.iterations ||
           msBetween(start, last) < inference.durationS * 1000.0) {
        auto runStart = Clock::now();
        auto run = io->runOnce(*context);
        if (!run) return run.status().withContext("inference " + std::to_string(latenciesMs.size() + 1));
        last = Clock::now();
        latenciesMs.push_back(msBetween(runStart, last));
        if (*run >= 0) gpuComputeMs.push_back(*run);
    }
    printSummary(latenciesMs, msBetween(start, last), options.reporting, log);
    // Device engines: the latency above includes the host<->device copies; the GPU's own time is apart.
    if (!gpuComputeMs.empty())
        log.info("GPU Compute Time: " + formatLatencyStats(computeLatencyStats(gpuComputeMs, options.reporting.percentiles)));
    KILN_RETURN_IF_ERROR(io->fetchOutputs());

    std::vector<TensorView> views;
    for (const IoTensor& out : outputs.value()) views.push_back({out.name, out.dtype, out.dims, out.buffer.get()});
    if (options.reporting.dumpOutput) {
        log.info("Output tensors:");
        for (const TensorView& view : views) log.info(formatTensor(view, kDumpedValues));
    }
    if (!options.reporting.exportOutput.empty()) {
        KILN_RETURN_IF_ERROR(exportOutputs(options.reporting.exportOutput, views));
        log.info("Outputs written to '" + options.reporting.exportOutput + "'");
    }
    return Status::ok();
}

}  // namespace kiln::cli
