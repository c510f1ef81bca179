#pragma once
// How the builder measures one layer on the device, shared by tactic selection (each candidate of a
// layer, tactic_selection.h) and layout selection (every layer of a whole graph, layout_selection.h), so
// that a tactic and a layout are judged by the same measurement: the layer's tensors in device buffers
// (inputs filled with timing data: known contents, else random values, never zeros for floats), a few
// warm-up runs, then the median of BuilderConfig::getAvgTimingIterations() runs (RunTimer::timeRuns).

#include <memory>
#include <vector>

#include "backends/backend.h"
#include "backends/device_buffer.h"
#include "backends/tactic_choice.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "kiln/builder.h"

namespace kiln {

/// Untimed runs before the timed ones: first launches pay one-time costs (module loads, cold caches).
inline constexpr int kWarmupRuns = 2;

/// Timed runs per measurement (--avgTiming, at least 1).
int timedRunsPerMeasurement(const BuilderConfig& config);

/// `values`' views at the concrete shapes of `infos` (indexed by value id), without data; an omitted
/// value gets an empty view. False when some shape is not known before running.
bool concreteViews(const std::vector<Value*>& values, const std::vector<ValueInfo>& infos,
                   std::vector<TensorView>& views);

/// Device memory for one layer's measurement, freed with it.
class LayerBuffers {
public:
    explicit LayerBuffers(Backend& backend) : mBackend(backend) {}

    /// Gives each view of `node`'s inputs and outputs (from concreteViews) a buffer; inputs are filled
    /// with timing data.
    Status bind(const Node& node, const std::vector<ValueInfo>& infos, std::vector<TensorView>& ins,
                std::vector<TensorView>& outs);
    /// Scratch of `bytes` (at least one byte, so the pointer is never null on success).
    Expected<void*> workspace(const Node& node, size_t bytes);

private:
    Expected<void*> allocate(const Node& node, size_t bytes);

    Backend& mBackend;
    std::vector<std::unique_ptr<DeviceBuffer>> mBuffers;
};

/// The median time in milliseconds of `kernel` running `io`, after kWarmupRuns untimed runs.
Expected<double> medianRunTime(RunTimer& timer, const BuilderConfig& config, Kernel& kernel, const KernelIO& io);

/// The median time of `node` alone with the tactic it carries (kTacticAttribute), at the shapes of
/// `infos`. An error says why the layer cannot be timed on its own: a shape known only while running, a
/// control-flow layer (its time is its subgraphs' runs), or a kernel that fails to create, reshape or run.
Expected<double> timeLayer(Backend& backend, RunTimer& timer, const BuilderConfig& config, const Node& node,
                           const std::vector<ValueInfo>& infos);

}  // namespace kiln
