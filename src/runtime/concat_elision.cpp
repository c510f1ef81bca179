#include "runtime/concat_elision.h"

#include "runtime/execution_layout.h"

namespace kiln {

namespace {

size_t byteSize(const ValueInfo& info) {
    return static_cast<size_t>(shapeElementCount(toConcrete(info.shape))) * dataTypeSize(info.dtype);
}

}  // namespace

ConcatElision planConcatElision(const Graph& graph, const std::vector<ValueInfo>& infos,
                                const std::vector<Residence>& residence, size_t alignment) {
    const size_t numValues = graph.valueCapacity();
    ConcatElision elision;
    elision.parent.assign(numValues, -1);
    elision.byteOffset.assign(numValues, 0);

    std::vector<size_t> reads(numValues, 0);
    for (const auto& node : graph.nodes())
        for (const Value* in : node->inputs)
            if (in) ++reads[static_cast<size_t>(in->id)];
    for (const Value* out : graph.outputs()) ++reads[static_cast<size_t>(out->id)];  // the caller reads it

    const auto& nodes = graph.nodes();
    for (size_t index = 0; index < nodes.size(); ++index) {
        const Node& concat = *nodes[index];
        if (!concat.domain.empty() || concat.opType != "Concat" || concat.outputs.size() != 1) continue;
        const Value* out = concat.output(0);
        if (residence[static_cast<size_t>(out->id)] != Residence::kArena) continue;
        const SymShape& shape = infos[static_cast<size_t>(out->id)].shape;
        int64_t axis = concat.attrs.getInt("axis", 0);
        if (axis < 0) axis += static_cast<int64_t>(shape.size());
        if (axis < 0 || axis >= static_cast<int64_t>(shape.size())) continue;
        bool contiguousSlices = true;
        for (int64_t d = 0; d < axis; ++d) contiguousSlices = contiguousSlices && shape[static_cast<size_t>(d)].value == 1;

        bool elidable = contiguousSlices;
        std::vector<size_t> offsets;
        size_t offset = 0;
        for (const Value* in : concat.inputs) {
            size_t id = in ? static_cast<size_t>(in->id) : 0;
            // Each slice: an activation its producer writes, read by this Concat alone, once, and
            // placed at an aligned offset.
            elidable = elidable && in && in->producer && residence[id] == Residence::kArena && reads[id] == 1 &&
                       elision.parent[id] < 0 && infos[id].dtype == infos[static_cast<size_t>(out->id)].dtype &&
                       offset % alignment == 0;
            if (!elidable) break;
            offsets.push_back(offset);
            offset += byteSize(infos[id]);
        }
        if (!elidable) continue;
        for (size_t i = 0; i < concat.inputs.size(); ++i) {
            size_t id = static_cast<size_t>(concat.inputs[i]->id);
            elision.parent[id] = out->id;
            elision.byteOffset[id] = offsets[i];
        }
        elision.elidedNodes.push_back(index);
    }
    return elision;
}

}  // namespace kiln
