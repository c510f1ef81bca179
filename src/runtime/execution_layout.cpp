#include "runtime/execution_layout.h"

#include <algorithm>

namespace kiln {

Expected<ExecutionLayout> layoutExecution(const Graph& graph, const std::vector<ValueInfo>& infos, size_t alignment) {
    ExecutionLayout layout;
    size_t numValues = graph.valueCapacity();
    layout.residence.assign(numValues, Residence::kUnused);
    layout.arenaOffset.assign(numValues, 0);

    for (const auto& v : graph.values()) {
        if (!v) continue;
        if (v->isConstant()) layout.residence[static_cast<size_t>(v->id)] = Residence::kConstant;
    }
    for (const Value* in : graph.inputs()) layout.residence[static_cast<size_t>(in->id)] = Residence::kInput;

    // A node runs unless every output was folded while preparing.
    const auto& nodes = graph.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Node& node = *nodes[i];
        bool allFolded = true;
        for (const Value* out : node.outputs) {
            if (!out) continue;
            const ValueInfo& info = infos[static_cast<size_t>(out->id)];
            if (!info.known || !isFullyKnown(info.shape))
                return unsupported(node.describe() + ": output '" + out->name + "' has shape " +
                                   symShapeToString(info.shape) +
                                   " that is not known before running (data-dependent shapes are not supported yet)");
            if (!info.value) allFolded = false;
        }
        for (const Value* out : node.outputs) {
            if (!out) continue;
            layout.residence[static_cast<size_t>(out->id)] = allFolded ? Residence::kFolded : Residence::kArena;
        }
        if (!allFolded) layout.runNodes.push_back(i);
    }
    for (const Value* out : graph.outputs()) {
        Residence& r = layout.residence[static_cast<size_t>(out->id)];
        if (r == Residence::kArena) r = Residence::kOutput;
    }

    // Lifetimes over run steps: written at its producer's step, read until its last consumer's.
    std::vector<int32_t> first(numValues, -1), last(numValues, -1);
    for (size_t step = 0; step < layout.runNodes.size(); ++step) {
        const Node& node = *nodes[layout.runNodes[step]];
        for (const Value* out : node.outputs)
            if (out) first[static_cast<size_t>(out->id)] = static_cast<int32_t>(step);
        for (const Value* in : node.inputs)
            if (in) last[static_cast<size_t>(in->id)] = static_cast<int32_t>(step);
    }
    std::vector<BufferRequest> requests;
    std::vector<size_t> requestValue;
    for (size_t id = 0; id < numValues; ++id) {
        if (layout.residence[id] != Residence::kArena) continue;
        const ValueInfo& info = infos[id];
        BufferRequest r;
        r.bytes = static_cast<size_t>(shapeElementCount(toConcrete(info.shape))) * dataTypeSize(info.dtype);
        r.firstStep = first[id];
        r.lastStep = std::max(first[id], last[id]);  // an unread output still needs its bytes while written
        requests.push_back(r);
        requestValue.push_back(id);
        layout.sumOfActivationBytes += r.bytes;
    }
    MemoryPlan plan = planMemory(requests, alignment);
    for (size_t i = 0; i < requests.size(); ++i) layout.arenaOffset[requestValue[i]] = plan.offsets[i];
    layout.arenaBytes = plan.totalBytes;
    layout.lowerBoundBytes = peakLiveBytes(requests, alignment);
    return layout;
}

}  // namespace kiln
