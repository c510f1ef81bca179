#include "inference_runner.h"

#include <algorithm>
#include <random>
#include <sstream>
#include <thread>

#include "inference_stream.h"
#include "input_data.h"
#include "input_shapes.h"
#include "layer_profiler.h"
#include "output_export.h"
#include "performance_report.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

// Random inputs are the same on every run, so two engines can be compared by their outputs.
constexpr uint64_t kInputSeed = 0x4b494c4e;
constexpr int64_t kDumpedValues = 32;

double msBetween(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}


/// Flags that have no effect on this engine, named once. (A GPU engine whose work cannot be captured
/// has said so, with the reason, while its streams were set up.)
void noteFlagsWithoutEffect(const ExecOptions& options, const RunTraits& traits, const Logger& log) {
    const InferenceOptions& inference = options.inference;
    std::vector<std::string> idle;
    if (traits.deviceWord == "CPU") {
        if (inference.noDataTransfers) idle.push_back("--noDataTransfers (nothing is copied)");
        if (inference.exposeDma) idle.push_back("--exposeDMA (nothing is copied)");
        if (!traits.asynchronous && inference.useSpinWait)
            idle.push_back("--useSpinWait (each inference has ended when enqueue returns; --sleepTime gaps spin)");
        if (inference.useCudaGraph) idle.push_back("--useCudaGraph (no CUDA on this engine)");
        if (options.system.deviceGiven())
            idle.push_back("--device=" + std::to_string(options.system.device) + " (the engine runs on the CPU)");
    }
    for (const std::string& flag : idle) log.info(traits.deviceWord + " engine: " + flag);
}

struct StreamRun {
    std::vector<IterationTimes> times;
    Status status;
};

/// Whether `times` (one stream's, in order) still span less than `durationMs` from the start of the first
/// to the end of the last: --duration bounds the reported Total Host Walltime, which is measured that way.
bool spansLessThan(const std::vector<IterationTimes>& times, double durationMs) {
    return times.empty() || times.back().endMs - times.front().startMs < durationMs;
}

/// Runs `stream` until it has done `iterations` runs spanning at least `durationS`.
void runUntilDone(InferenceStream& stream, Clock::time_point epoch, const InferenceOptions& options, StreamRun& out) {
    out.status = stream.bindToThread();
    if (!out.status) return;
    double durationMs = options.durationS * 1000.0;
    while (static_cast<int64_t>(out.times.size()) < options.iterations || spansLessThan(out.times, durationMs)) {
        IterationTimes times;
        out.status = stream.runOnce(epoch, !options.noDataTransfers, times);
        if (!out.status) return;
        out.times.push_back(times);
    }
}

/// The timed run: each stream in its own thread with --threads, else all of them in turns on this one.
Expected<std::vector<IterationTimes>> timedRun(std::vector<std::unique_ptr<InferenceStream>>& streams,
                                               const InferenceOptions& options) {
    std::vector<StreamRun> runs(streams.size());
    Clock::time_point epoch = Clock::now();
    if (options.threads && streams.size() > 1) {
        std::vector<std::thread> threads;
        for (size_t s = 0; s < streams.size(); ++s)
            threads.emplace_back([&, s] { runUntilDone(*streams[s], epoch, options, runs[s]); });
        for (std::thread& thread : threads) thread.join();
    } else {
        double durationMs = options.durationS * 1000.0;
        bool more = true;
        while (more) {
            more = false;
            for (size_t s = 0; s < streams.size(); ++s) {
                IterationTimes times;
                runs[s].status = streams[s]->runOnce(epoch, !options.noDataTransfers, times);
                if (!runs[s].status) return runs[s].status;
                runs[s].times.push_back(times);
                more = more || static_cast<int64_t>(runs[s].times.size()) < options.iterations ||
                       spansLessThan(runs[s].times, durationMs);
            }
        }
    }
    std::vector<IterationTimes> all;
    for (size_t s = 0; s < runs.size(); ++s) {
        if (!runs[s].status) return runs[s].status.withContext("stream " + std::to_string(s));
        all.insert(all.end(), runs[s].times.begin(), runs[s].times.end());
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.startMs < b.startMs; });
    return all;
}

Status warmUp(std::vector<std::unique_ptr<InferenceStream>>& streams, const InferenceOptions& options,
              const Logger& log) {
    auto start = Clock::now();
    int64_t runs = 0;
    while (msBetween(start, Clock::now()) < options.warmUpMs) {
        for (auto& stream : streams) {
            IterationTimes ignored;
            KILN_RETURN_IF_ERROR(stream->runOnce(start, !options.noDataTransfers, ignored).withContext("warm-up"));
            ++runs;
        }
    }
    std::ostringstream line;
    line << "Warm-up: " << runs << " runs in " << msBetween(start, Clock::now()) << " ms";
    log.info(line.str());
    return Status::ok();
}

Status reportProfile(const LayerProfiler& profiler, const ReportingOptions& reporting, const Logger& log) {
    if (reporting.dumpProfile) {
        std::istringstream lines(profiler.format());
        for (std::string line; std::getline(lines, line);) log.info(line);
    }
    if (!reporting.exportProfile.empty()) {
        KILN_RETURN_IF_ERROR(profiler.exportJson(reporting.exportProfile));
        log.info("Per-layer profile written to '" + reporting.exportProfile + "'");
    }
    return Status::ok();
}

Status reportOutputs(InferenceStream& stream, const ReportingOptions& reporting, const Logger& log) {
    if (!reporting.dumpOutput && reporting.exportOutput.empty()) return Status::ok();
    auto views = stream.outputs();
    if (!views) return views.status();
    if (reporting.dumpOutput) {
        log.info("Output tensors:");
        for (const TensorView& view : views.value()) log.info(formatTensor(view, kDumpedValues));
    }
    if (!reporting.exportOutput.empty()) {
        KILN_RETURN_IF_ERROR(exportOutputs(reporting.exportOutput, views.value()));
        log.info("Outputs written to '" + reporting.exportOutput + "'");
    }
    return Status::ok();
}

}  // namespace

Expected<std::vector<HostInput>> prepareInputs(Engine& engine, const ExecOptions& options, const Logger& log) {
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
    std::vector<HostInput> inputs;
    for (const auto& [name, dims] : shapes.value()) {
        HostInput input{name, engine.getTensorDataType(name.c_str()), dims, {}};
        // A string element is a pointer and a length: neither random bytes nor a .npy/raw file
        // can hold one, so string inputs are left to the API.
        if (input.dtype == DataType::kSTRING)
            return unsupported("input '" + name + "' is a string tensor; kiln exec cannot feed string inputs "
                               "(use the C++ API, or the conformance runner for ONNX test data)");
        std::string source = "random data";
        const NameValue* load = nullptr;
        for (const NameValue& entry : options.inference.loadInputs)
            if (entry.name == name) load = &entry;
        if (load) {
            auto loaded = loadInputFile(name, input.dtype, dims, load->value);
            if (!loaded) return loaded.status();
            input.data = std::move(loaded).value();
            source = "'" + load->value + "'";
        } else {
            input.data = randomInput(input.dtype, elementCount(dims), rng);
        }
        log.info("Input '" + name + "': " + dataTypeName(input.dtype) + " " + describeDims(dims) + " from " + source);
        inputs.push_back(std::move(input));
    }
    return inputs;
}

Status runInference(Engine& engine, const ExecOptions& options, const Logger& log) {
    const InferenceOptions& inference = options.inference;
    const ReportingOptions& reporting = options.reporting;
    auto inputs = prepareInputs(engine, options, log);
    if (!inputs) return inputs.status();
    std::vector<std::unique_ptr<InferenceStream>> streams;
    for (int32_t s = 0; s < inference.infStreams; ++s) {
        auto stream = createInferenceStream(engine, inputs.value(), inference, log);
        if (!stream) return stream.status();
        streams.push_back(std::move(stream).value());
    }
    RunTraits traits = streams.front()->traits(inference);
    noteFlagsWithoutEffect(options, traits, log);
    if (inference.infStreams > 1)
        log.info(std::to_string(inference.infStreams) + " streams (execution contexts), driven by " +
                 (inference.threads ? "one thread each" : "one thread in turns"));

    KILN_RETURN_IF_ERROR(warmUp(streams, inference, log));

    // The profiler slows every run down, so with --separateProfileRun it stays off the timed run.
    LayerProfiler profiler;
    bool profileTimedRun = reporting.profiling() && !inference.separateProfileRun;
    if (profileTimedRun) {
        streams.front()->context().setProfiler(&profiler);
        log.warning("The per-layer profiler is attached to the timed run, which makes it slower: add "
                    "--separateProfileRun for an unprofiled performance summary");
        // The profiler times each layer, which a graph launch cannot: that stream runs layer by layer.
        if (traits.usingCudaGraph) {
            log.warning("--useCudaGraph: the profiled stream launches its layers one by one during the timed run");
            traits.usingCudaGraph = false;
        }
    }
    auto times = timedRun(streams, inference);
    streams.front()->context().setProfiler(nullptr);
    if (!times) return times.status();

    if (reporting.verbose)
        for (const std::string& line : formatAveragedRuns(times.value(), static_cast<size_t>(reporting.avgRuns), traits))
            log.verbose(line);
    PerformanceSummary summary = summarizePerformance(times.value(), reporting.percentiles);
    std::ostringstream trace;
    trace << "Timing trace has " << summary.queries << " queries over " << summary.walltimeMs / 1000.0 << " s";
    log.info(trace.str());
    for (const ReportLine& line : formatPerformanceSummary(summary, traits)) {
        if (line.warning)
            log.warning(line.text);
        else
            log.info(line.text);
    }
    for (const std::string& line : explainPerformanceMetrics(traits)) log.verbose(line);
    if (!reporting.exportTimes.empty()) {
        KILN_RETURN_IF_ERROR(exportTimes(reporting.exportTimes, times.value()));
        log.info("Per-inference times written to '" + reporting.exportTimes + "'");
    }

    if (reporting.profiling() && inference.separateProfileRun) {
        log.info("Profile run: " + std::to_string(inference.iterations) + " inferences with the per-layer profiler");
        InferenceStream& stream = *streams.front();
        stream.context().setProfiler(&profiler);
        Clock::time_point epoch = Clock::now();
        for (int64_t i = 0; i < inference.iterations; ++i) {
            IterationTimes ignored;
            Status ran = stream.runOnce(epoch, !inference.noDataTransfers, ignored);
            if (!ran) {
                stream.context().setProfiler(nullptr);
                return ran.withContext("profile run");
            }
        }
        stream.context().setProfiler(nullptr);
    }
    if (reporting.profiling()) KILN_RETURN_IF_ERROR(reportProfile(profiler, reporting, log));
    return reportOutputs(*streams.front(), reporting, log);
}

}  // namespace kiln::cli
