#include "runtime/execution_layout.h"

#include <algorithm>
#include <iterator>

#include "runtime/concat_elision.h"

namespace kiln {

namespace {

/// Ops whose output holds the input's bytes unchanged, only relabelled with another shape.
bool isRelabel(const Node& node) {
    static const char* const kRelabels[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"};
    if (!node.domain.empty() || node.inputs.empty() || !node.inputs[0] || node.outputs.size() != 1 ||
        !node.outputs[0])
        return false;
    return std::any_of(std::begin(kRelabels), std::end(kRelabels), [&](const char* op) { return node.opType == op; });
}

}  // namespace

Expected<ExecutionLayout> layoutExecution(const Graph& graph, const std::vector<ValueInfo>& infos, size_t alignment,
                                          const InPlacePolicy& inPlace) {
    ExecutionLayout layout;
    size_t numValues = graph.valueCapacity();
    layout.residence.assign(numValues, Residence::kUnused);
    layout.arenaOffset.assign(numValues, 0);

    for (const auto& v : graph.values()) {
        if (!v) continue;
        if (v->isConstant()) layout.residence[static_cast<size_t>(v->id)] = Residence::kConstant;
    }
    layout.inputView.assign(numValues, -1);
    for (const Value* in : graph.inputs()) {
        layout.residence[static_cast<size_t>(in->id)] = Residence::kInput;
        layout.inputView[static_cast<size_t>(in->id)] = in->id;
    }

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
    ConcatElision elision = planConcatElision(graph, infos, layout.residence, alignment);
    layout.elidedNodes = elision.elidedNodes;
    std::erase_if(layout.runNodes, [&](size_t i) {
        return std::find(elision.elidedNodes.begin(), elision.elidedNodes.end(), i) != elision.elidedNodes.end();
    });
    // Values that live inside another's buffer: Concat slices (at their offset), relabelled values and
    // outputs written over a dying input (at offset 0). `parent` chains end at the value that owns the buffer.
    std::vector<int64_t> parent = elision.parent;
    std::vector<size_t> byteOffset = elision.byteOffset;
    auto rootOf = [&](size_t id) {
        while (parent[id] >= 0) id = static_cast<size_t>(parent[id]);
        return id;
    };
    auto bytesOf = [&](size_t id) {
        return static_cast<size_t>(shapeElementCount(toConcrete(infos[id].shape))) * dataTypeSize(infos[id].dtype);
    };

    // Lifetimes over run steps: written at its producer's step, read until its last consumer's.
    std::vector<int32_t> first(numValues, -1), last(numValues, -1);
    for (size_t step = 0; step < layout.runNodes.size(); ++step) {
        const Node& node = *nodes[layout.runNodes[step]];
        for (const Value* out : node.outputs)
            if (out) first[static_cast<size_t>(out->id)] = static_cast<int32_t>(step);
        for (const Value* in : node.inputs)
            if (in) last[static_cast<size_t>(in->id)] = static_cast<int32_t>(step);
    }
    // Relabels: a Reshape, Flatten, Squeeze or Unsqueeze output is its input's bytes under another
    // shape, so it shares the input's buffer whether or not the input is read later (values are written
    // once, so neither changes under the other). Their kernels then find one buffer on both sides and
    // copy nothing. A relabel of a graph input views the caller's buffer (read only, as the input is:
    // nothing is written over a kInput value); a constant or an engine output keeps its own memory.
    for (size_t step = 0; step < layout.runNodes.size(); ++step) {
        const Node& node = *nodes[layout.runNodes[step]];
        if (!isRelabel(node)) continue;
        const size_t in = static_cast<size_t>(node.inputs[0]->id);
        const size_t out = static_cast<size_t>(node.outputs[0]->id);
        if (layout.residence[out] != Residence::kArena || parent[out] >= 0 || bytesOf(in) != bytesOf(out) ||
            infos[in].dtype != infos[out].dtype || infos[in].dtype == DataType::kSTRING)
            continue;
        if (layout.residence[in] == Residence::kInput) {
            layout.residence[out] = Residence::kInput;
            layout.inputView[out] = layout.inputView[in];
        } else if (layout.residence[in] == Residence::kArena) {
            parent[out] = static_cast<int64_t>(in);
            byteOffset[out] = 0;
        }
    }
    // The last step reading any value of a buffer, by the buffer's owner: an output may be written over
    // an input only where the input's whole buffer (its relabels too) dies.
    std::vector<int32_t> bufferLast = last;
    for (size_t id = 0; id < numValues; ++id)
        if (parent[id] >= 0) bufferLast[rootOf(id)] = std::max(bufferLast[rootOf(id)], last[id]);
    auto insideSlice = [&](size_t id) {
        for (size_t v = id;; v = static_cast<size_t>(parent[v])) {
            if (elision.isSlice(v)) return true;
            if (parent[v] < 0) return false;
        }
    };
    if (inPlace) {
        for (size_t step = 0; step < layout.runNodes.size(); ++step) {
            const Node& node = *nodes[layout.runNodes[step]];
            if (node.outputs.size() != 1 || !node.outputs[0]) continue;
            size_t out = static_cast<size_t>(node.outputs[0]->id);
            if (layout.residence[out] != Residence::kArena || parent[out] >= 0) continue;
            for (size_t i = 0; i < node.inputs.size(); ++i) {
                const Value* in = node.inputs[i];
                size_t id = in ? static_cast<size_t>(in->id) : 0;
                // The input's buffer dies here, and is a whole buffer of the output's size.
                bool takeOver = in && layout.residence[id] == Residence::kArena && !insideSlice(id) &&
                                bufferLast[rootOf(id)] == static_cast<int32_t>(step) && bytesOf(id) == bytesOf(out) &&
                                bytesOf(rootOf(id)) == bytesOf(out) && infos[id].dtype == infos[out].dtype &&
                                inPlace(node, i);
                if (!takeOver) continue;
                const size_t root = rootOf(id);
                bufferLast[root] = std::max(bufferLast[root], bufferLast[out]);  // out and its relabels join it
                parent[out] = static_cast<int64_t>(id);
                byteOffset[out] = 0;
                break;
            }
        }
    }
    // A buffer lives from the first write of any value in it to the last read of any.
    for (size_t id = 0; id < numValues; ++id) {
        if (parent[id] < 0) continue;
        size_t root = rootOf(id);
        if (first[id] >= 0 && (first[root] < 0 || first[id] < first[root])) first[root] = first[id];
        last[root] = std::max(last[root], last[id]);
    }
    std::vector<BufferRequest> requests;
    std::vector<size_t> requestValue;
    for (size_t id = 0; id < numValues; ++id) {
        if (layout.residence[id] != Residence::kArena) continue;
        layout.sumOfActivationBytes += bytesOf(id);
        if (parent[id] >= 0) continue;  // lives inside another value's buffer
        BufferRequest r;
        r.bytes = bytesOf(id);
        r.firstStep = first[id];
        r.lastStep = std::max(first[id], last[id]);  // an unread output still needs its bytes while written
        requests.push_back(r);
        requestValue.push_back(id);
    }
    MemoryPlan plan = planMemory(requests, alignment);
    for (size_t i = 0; i < requests.size(); ++i) layout.arenaOffset[requestValue[i]] = plan.offsets[i];
    for (size_t id = 0; id < numValues; ++id) {
        if (parent[id] < 0) continue;
        size_t offset = 0;
        for (size_t v = id; parent[v] >= 0; v = static_cast<size_t>(parent[v])) offset += byteOffset[v];
        layout.arenaOffset[id] = layout.arenaOffset[rootOf(id)] + offset;
    }
    layout.arenaBytes = plan.totalBytes;
    layout.lowerBoundBytes = peakLiveBytes(requests, alignment);
    return layout;
}

}  // namespace kiln
