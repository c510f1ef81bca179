#pragma once
// One execution context of `kiln exec` with its own I/O buffers: the unit that --infStreams
// multiplies. Each backend has its own kind of stream, made by createInferenceStream():
//   - a CPU engine reads and writes host buffers in place and runs inside enqueue (HostInferenceStream);
//   - a GPU engine keeps device buffers and copies inputs in and outputs out around each run,
//     timing each part with CUDA events (DeviceInferenceStream).
// The runner (inference_runner.cpp) only sees this interface.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/status.h"
#include "inference_options.h"
#include "iteration_times.h"
#include "kiln/runtime.h"
#include "output_export.h"
#include "performance_report.h"

namespace kiln::cli {

using Clock = std::chrono::steady_clock;

/// An input's run-time shape and the bytes every stream feeds it.
struct HostInput {
    std::string name;
    DataType dtype{DataType::kFLOAT};
    Dims dims;
    std::vector<uint8_t> data;
};

class InferenceStream {
public:
    virtual ~InferenceStream() = default;
    /// Runs one inference; `times` are in ms since `epoch` (start and end) and durations.
    /// `transfer` false (--noDataTransfers) leaves the data where the last run put it.
    virtual Status runOnce(Clock::time_point epoch, bool transfer, IterationTimes& times) = 0;
    /// The outputs of the last run, on the host (copied back first when the run skipped that).
    virtual Expected<std::vector<TensorView>> outputs() = 0;
    /// The context, e.g. to attach a profiler.
    virtual ExecutionContext& context() = 0;
    /// What this stream's times mean (see RunTraits).
    virtual RunTraits traits(const InferenceOptions& options) const = 0;
    /// Readies the calling thread to run this stream; each thread that runs it calls this first (a GPU
    /// stream makes its device current there: CUDA's current device is per thread).
    virtual Status bindToThread() { return Status::ok(); }
};

/// A stream of the kind `engine`'s backend needs, with shapes set and inputs filled. `log` receives
/// what setting it up reports (a GPU stream's CUDA graph capture).
Expected<std::unique_ptr<InferenceStream>> createInferenceStream(Engine& engine, const std::vector<HostInput>& inputs,
                                                                 const InferenceOptions& options, const Logger& log);

/// Waits `ms` milliseconds: by sleeping, or with --useSpinWait by polling the clock.
void waitMilliseconds(double ms, bool spin);

}  // namespace kiln::cli
