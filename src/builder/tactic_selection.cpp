#include "builder/tactic_selection.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <sstream>

#include "backends/backend.h"
#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "builder/layer_timing.h"

namespace kiln {

namespace {

struct TimingTotals {
    size_t layers{0};
    size_t runs{0};
    size_t cacheHits{0};
};

class LayerTimer {
public:
    LayerTimer(Backend& backend, RunTimer& timer, const BuilderConfig& config, const Logger& log)
        : mBackend(backend), mTimer(timer), mConfig(config), mLog(log) {}

    /// Chooses the tactic of `node` at `infos`' shapes (nothing when its kernel has no choice).
    Status choose(Node& node, const std::vector<ValueInfo>& infos, TimingTotals& totals) {
        std::vector<TensorView> ins, outs;
        if (!concreteViews(node.inputs, infos, ins) || !concreteViews(node.outputs, infos, outs)) return Status::ok();
        // The problem's key first, from a kernel that lists no candidates: listing them can be costly
        // (cuDNN builds every candidate plan), and a warm timing cache makes that unnecessary.
        Node trial = node;
        trial.attrs.erase(kTacticAttribute);
        trial.attrs.set(kTacticSearchAttribute, int64_t{0});  // the key alone
        KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> probe, mBackend.createKernel(trial));
        KILN_RETURN_IF_ERROR(probe->reshape(ins, outs).withContext(node.describe()));
        auto* probeChooser = dynamic_cast<TacticChooser*>(probe.get());
        if (!probeChooser || probeChooser->tacticKey().empty()) return Status::ok();
        const std::string key = mBackend.targetDescription() + " | " + node.opType + " | " + probeChooser->tacticKey();
        TimingCache* cache = mConfig.getTimingCache();
        if (const TimingCache::Entry* hit = cache ? cache->find(key) : nullptr) {
            node.attrs.set(kTacticAttribute, hit->tactic);
            ++totals.cacheHits;
            return Status::ok();
        }
        probe.reset();

        trial.attrs.set(kTacticSearchAttribute,
                        static_cast<int64_t>(tacticCandidatesAt(mConfig.getBuilderOptimizationLevel())));
        KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, mBackend.createKernel(trial));
        KILN_RETURN_IF_ERROR(kernel->reshape(ins, outs).withContext(node.describe()));
        auto* chooser = dynamic_cast<TacticChooser*>(kernel.get());
        if (!chooser || chooser->tacticCount() <= 1 || chooser->tacticKey().empty()) return Status::ok();
        KILN_ASSIGN_OR_RETURN(TimingCache::Entry best, time(node, infos, *kernel, *chooser, ins, outs, totals));
        node.attrs.set(kTacticAttribute, best.tactic);
        if (cache) cache->insert(key, std::move(best));
        ++totals.layers;
        return Status::ok();
    }

private:
    Expected<TimingCache::Entry> time(const Node& node, const std::vector<ValueInfo>& infos, Kernel& kernel,
                                      TacticChooser& chooser, std::vector<TensorView>& ins,
                                      std::vector<TensorView>& outs, TimingTotals& totals) {
        LayerBuffers buffers(mBackend);
        KILN_RETURN_IF_ERROR(buffers.bind(node, infos, ins, outs));
        size_t workspace = 0;
        for (size_t t = 0; t < chooser.tacticCount(); ++t) {
            KILN_RETURN_IF_ERROR(chooser.selectTactic(t));
            workspace = std::max(workspace, kernel.workspaceSize());
        }
        KILN_ASSIGN_OR_RETURN(void* scratch, buffers.workspace(node, workspace));
        KernelIO io{ins.data(), ins.size(), outs.data(), outs.size(), scratch, workspace, nullptr, nullptr};

        TimingCache::Entry best;
        best.milliseconds = std::numeric_limits<double>::infinity();
        best.candidates = static_cast<int64_t>(chooser.tacticCount());
        double defaultMs = 0;
        for (size_t t = 0; t < chooser.tacticCount(); ++t) {
            KILN_RETURN_IF_ERROR(chooser.selectTactic(t));
            auto ms = medianRunTime(mTimer, mConfig, kernel, io);
            totals.runs += static_cast<size_t>(kWarmupRuns + timedRunsPerMeasurement(mConfig));
            if (!ms) {  // a candidate that fails to run is skipped, as TensorRT skips failing tactics
                mLog.verbose(node.describe() + ": tactic " + std::to_string(t) + " failed: " + ms.status().message());
                continue;
            }
            // Every candidate's time, as TensorRT's verbose log lists them: what a slower kernel lost by.
            mLog.verbose(node.describe() + ": tactic " + std::to_string(t) + " " + kernel.tacticName() + " " +
                         std::to_string(ms.value()) + " ms");
            if (t == 0) defaultMs = ms.value();
            if (ms.value() < best.milliseconds) {
                best.milliseconds = ms.value();
                best.tactic = chooser.tacticState();
                best.tacticName = kernel.tacticName() + " #" + std::to_string(t);
            }
        }
        if (best.tactic.empty()) return internalError(node.describe() + ": no tactic ran");
        std::ostringstream oss;
        oss << node.describe() << ": " << chooser.tacticCount() << " tactics timed, fastest " << best.tacticName << " "
            << best.milliseconds << " ms (default " << defaultMs << " ms)";
        mLog.verbose(oss.str());
        return best;
    }

    Backend& mBackend;
    RunTimer& mTimer;
    const BuilderConfig& mConfig;
    const Logger& mLog;
};

}  // namespace

size_t tacticCandidatesAt(int32_t optimizationLevel) {
    if (optimizationLevel <= 0) return 1;
    return size_t{1} << std::min(optimizationLevel, 5);  // 2, 4, 8, 16, 32
}

Status selectTactics(Graph& graph, const std::vector<ValueInfo>& infos, Backend& backend, const BuilderConfig& config,
                     const Logger& log, const ProgressPhase& parent) {
    auto* timer = dynamic_cast<RunTimer*>(&backend);
    if (!timer || config.getBuilderOptimizationLevel() <= 0) return Status::ok();
    const auto start = std::chrono::steady_clock::now();
    ProgressPhase phase(parent.monitor(), "Timing tactics", &parent, static_cast<int32_t>(graph.nodes().size()));
    LayerTimer layers(backend, *timer, config, log);
    TimingTotals totals;
    for (const auto& node : graph.nodes()) {
        KILN_RETURN_IF_ERROR(layers.choose(*node, infos, totals));
        KILN_RETURN_IF_ERROR(phase.completeStep());
    }
    if (totals.layers + totals.cacheHits == 0) return Status::ok();
    std::ostringstream oss;
    oss << "tactic selection: " << totals.layers << " layers timed (" << totals.runs << " runs), "
        << totals.cacheHits << " answered by the timing cache, in "
        << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s";
    log.info(oss.str());
    return Status::ok();
}

}  // namespace kiln
