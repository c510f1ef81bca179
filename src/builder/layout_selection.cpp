#include "builder/layout_selection.h"

#include <chrono>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "backends/cpu/cpu_backend.h"
#include "backends/tactic_choice.h"
#include "builder/graph_fingerprint.h"
#include "builder/layer_timing.h"
#include "builder/profile_resolution.h"
#include "ir/ops/layout_attributes.h"
#include "passes/channels_first_conv_input.h"
#include "passes/channels_last_layout.h"
#include "passes/pass_manager.h"
#include "runtime/data_dependent_run.h"
#include "runtime/execution_layout.h"

namespace kiln {

namespace {

const char* layoutName(int64_t layout) {
    return layout == kLayoutNchw ? "NCHW" : "channels-last";
}

std::string milliseconds(double ms) {
    std::ostringstream oss;
    oss << std::fixed << std::setprecision(ms < 1 ? 4 : 3) << ms << " ms";
    return oss.str();
}

/// Rewrites `graph` into channels-last regions (passes/channels_last_layout.h), then lets the convolutions
/// over few channels that a region starts with read their NCHW input as it is
/// (passes/channels_first_conv_input.h); whether anything changed.
Expected<bool> makeChannelsLast(Graph& graph, Backend& backend, const BuilderConfig& config, const Logger& log) {
    // Through the pass manager like the pipeline's passes: each change is a verbose line, and --debug
    // verifies the graph after it. The pass infers the shapes of the graph it leaves.
    const BackendSupport supports = [&](const Node& node, std::string* reason) {
        return backend.supports(node, reason);
    };
    PassManager passes;
    passes.add(std::make_unique<ChannelsLastLayout>(std::set<DataType>{DataType::kHALF, DataType::kBF16}, supports));
    passes.add(std::make_unique<ChannelsFirstConvInput>(supports));
    passes.setVerifyAfterEachPass(config.getFlag(BuilderFlag::kDEBUG));
    CpuNodeEvaluator evaluator;
    PassContext ctx{log, &evaluator, {}};
    KILN_ASSIGN_OR_RETURN(auto stats, passes.run(graph, ctx));
    if (stats.empty() || stats[0].changes == 0) return false;
    size_t convolutions = 0, transposes = 0;
    for (const auto& node : graph.nodes()) {
        convolutions += node->opType == "FusedConv" && node->attrs.getInt(kChannelsLastAttribute, 0) != 0;
        transposes += node->opType == "Transpose";
    }
    log.info("channels-last layout: " + std::to_string(convolutions) + " convolutions in NHWC, " +
             std::to_string(transposes) + " layout transposes in the graph");
    return true;
}

/// The layers that execute in an engine of `graph` (execution_layout.h): layers folded while preparing
/// (shape computations) and Concats written in place cost nothing at run time. Where some shape is known
/// only while running there is no layout, and every layer is a candidate.
std::vector<size_t> layersThatRun(const Graph& graph, const std::vector<ValueInfo>& infos, const Backend& backend) {
    if (!hasDataDependentShapes(graph, infos)) {
        auto layout = layoutExecution(graph, infos, backend.alignment());
        if (layout) return layout.value().runNodes;
    }
    std::vector<size_t> all(graph.nodes().size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
}

/// Each running layer's median time by node id, and the ids of those that could not be timed alone.
struct LayerTimes {
    std::map<int32_t, double> milliseconds;
    std::set<int32_t> untimed;
};

Expected<LayerTimes> timeLayers(const Graph& graph, const ProfileShapes& profile, int64_t layout, Backend& backend,
                                RunTimer& timer, const BuilderConfig& config, const Logger& log) {
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> infos, inferAtProfile(graph, profile, OptProfileSelector::kOPT));
    LayerTimes times;
    for (size_t index : layersThatRun(graph, infos, backend)) {
        const Node& node = *graph.nodes()[index];
        auto ms = timeLayer(backend, timer, config, node, infos);
        if (ms) {
            times.milliseconds[node.id] = ms.value();
            if (log.verboseEnabled())
                log.verbose(std::string("layout timing, ") + layoutName(layout) + ": " + node.describe() + " " +
                            milliseconds(ms.value()));
        } else {
            // Compared by node id, so the layer's counterpart in the other graph is left out too.
            times.untimed.insert(node.id);
            log.verbose(std::string("layout timing, ") + layoutName(layout) + ": " + node.describe() +
                        " is left out of both sums: " + ms.status().message());
        }
    }
    return times;
}

/// The two sums over the layers timed in both graphs' terms: a layer (by node id, shared by the NCHW
/// graph and its copy) that could not be timed in one is left out of both, so neither sum misses a
/// cost the other counts.
struct Comparison {
    double nchwMs{0}, channelsLastMs{0};
    size_t nchwLayers{0}, channelsLastLayers{0};
    size_t leftOut{0};
};

Comparison compare(const LayerTimes& nchw, const LayerTimes& channelsLast) {
    std::set<int32_t> leftOut = nchw.untimed;
    leftOut.insert(channelsLast.untimed.begin(), channelsLast.untimed.end());
    Comparison result;
    result.leftOut = leftOut.size();
    for (const auto& [id, ms] : nchw.milliseconds) {
        if (leftOut.count(id)) continue;
        result.nchwMs += ms;
        ++result.nchwLayers;
    }
    for (const auto& [id, ms] : channelsLast.milliseconds) {
        if (leftOut.count(id)) continue;
        result.channelsLastMs += ms;
        ++result.channelsLastLayers;
    }
    return result;
}

/// The Transposes the channels-last pass added: layers of the copy that the NCHW graph does not have.
size_t reformatLayers(const Graph& nchw, const Graph& channelsLast) {
    std::set<int32_t> original;
    for (const auto& node : nchw.nodes()) original.insert(node->id);
    size_t count = 0;
    for (const auto& node : channelsLast.nodes())
        count += node->opType == "Transpose" && node->domain.empty() && !original.count(node->id);
    return count;
}

/// A cached decision, when `cache` holds a well-formed one for `key` (anything else is timed again and
/// overwritten).
const TimingCache::Entry* cachedDecision(const TimingCache* cache, const std::string& key) {
    const TimingCache::Entry* entry = cache ? cache->find(key) : nullptr;
    if (!entry || entry->tactic.size() != 1) return nullptr;
    const int64_t layout = entry->tactic[0];
    return layout == kLayoutNchw || layout == kLayoutChannelsLast ? entry : nullptr;
}

}  // namespace

Status selectLayout(std::unique_ptr<Graph>& graph, const std::vector<ProfileShapes>& profiles, Backend& backend,
                    const BuilderConfig& config, const Logger& log, const ProgressPhase& parent,
                    const PrepareLayers& prepare) {
    auto* timer = backend.isHostMemory() ? nullptr : dynamic_cast<RunTimer*>(&backend);
    if (!timer || config.getBuilderOptimizationLevel() <= 0 || profiles.empty()) {
        // Nothing is timed: the heuristic, channels-last wherever the pass applies.
        KILN_RETURN_IF_ERROR(makeChannelsLast(*graph, backend, config, log).status());
        return prepare(*graph);
    }
    auto nchwInfos = inferAtProfile(*graph, profiles[0], OptProfileSelector::kOPT);
    if (!nchwInfos) return nchwInfos.status().withContext("optimization profile 0 at its opt shapes");
    const std::string key =
        backend.targetDescription() + " | layout | " + structureFingerprint(*graph, nchwInfos.value());
    TimingCache* cache = config.getTimingCache();
    if (const TimingCache::Entry* hit = cachedDecision(cache, key)) {
        const int64_t layout = hit->tactic[0];
        log.info("layout: " + hit->tacticName + ", " + milliseconds(hit->milliseconds) +
                 " (sum of layer medians), answered by the timing cache: " + layoutName(layout));
        if (layout == kLayoutChannelsLast)
            KILN_RETURN_IF_ERROR(makeChannelsLast(*graph, backend, config, log).status());
        return prepare(*graph);
    }

    // The copy is taken before either graph is prepared: its convolutions get tactics timed in their
    // NHWC form, never the NCHW form's (a cuDNN plan for one layout is not a plan for the other).
    std::unique_ptr<Graph> channelsLast = graph->clone();
    KILN_ASSIGN_OR_RETURN(bool changed, makeChannelsLast(*channelsLast, backend, config, log));
    if (!changed) return prepare(*graph);
    KILN_RETURN_IF_ERROR(prepare(*graph));
    KILN_RETURN_IF_ERROR(prepare(*channelsLast));

    const auto start = std::chrono::steady_clock::now();
    LayerTimes nchwTimes, channelsLastTimes;
    {
        ProgressPhase phase(parent.monitor(), "Timing layouts", &parent, 2);
        KILN_ASSIGN_OR_RETURN(nchwTimes, timeLayers(*graph, profiles[0], kLayoutNchw, backend, *timer, config, log));
        KILN_RETURN_IF_ERROR(phase.completeStep());
        KILN_ASSIGN_OR_RETURN(channelsLastTimes, timeLayers(*channelsLast, profiles[0], kLayoutChannelsLast, backend,
                                                            *timer, config, log));
        KILN_RETURN_IF_ERROR(phase.completeStep());
    }
    const Comparison sums = compare(nchwTimes, channelsLastTimes);
    const size_t reformats = reformatLayers(*graph, *channelsLast);
    if (sums.nchwLayers == 0 || sums.channelsLastLayers == 0) {
        log.info("layout: no layer could be timed alone in both layouts: channels-last (the heuristic)");
        graph = std::move(channelsLast);
        return Status::ok();
    }
    // Ties keep the heuristic.
    const int64_t layout = sums.nchwMs < sums.channelsLastMs ? kLayoutNchw : kLayoutChannelsLast;
    std::ostringstream line;
    line << "layout: NCHW " << milliseconds(sums.nchwMs) << ", channels-last " << milliseconds(sums.channelsLastMs)
         << " (sum of layer medians, " << reformats << " reformat layer" << (reformats == 1 ? "" : "s");
    if (sums.leftOut > 0)
        line << ", " << sums.leftOut << " layer" << (sums.leftOut == 1 ? "" : "s") << " not timed alone and left out";
    line << "): " << layoutName(layout) << " (timed in "
         << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s)";
    log.info(line.str());

    if (cache) {
        const bool nchwWon = layout == kLayoutNchw;
        TimingCache::Entry entry;
        entry.tactic = {layout};
        entry.milliseconds = nchwWon ? sums.nchwMs : sums.channelsLastMs;
        // Readable in `kiln inspect`: the winner, and what the other layout took.
        entry.tacticName = std::string(layoutName(layout)) + " (" +
                           layoutName(nchwWon ? kLayoutChannelsLast : kLayoutNchw) + " took " +
                           milliseconds(nchwWon ? sums.channelsLastMs : sums.nchwMs) + ")";
        entry.candidates = 2;
        cache->insert(key, std::move(entry));
    }
    if (layout == kLayoutChannelsLast) graph = std::move(channelsLast);
    return Status::ok();
}

}  // namespace kiln
