#include "passes/repeated_gather_indices.h"

#include <cstring>

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// The indices' extents with every axis along which they repeat cut to 1, or nothing where none repeats.
std::optional<std::vector<int64_t>> repeatFreeExtents(const std::vector<int64_t>& indices, const Shape& shape) {
    std::vector<int64_t> reduced(shape.begin(), shape.end());
    bool any = false;
    int64_t inner = 1;  // elements after the axis
    for (size_t a = shape.size(); a-- > 0;) {
        const int64_t extent = shape[a];
        bool repeats = extent > 1;
        for (size_t i = 0; repeats && i < indices.size(); ++i) {
            const int64_t along = static_cast<int64_t>(i) / inner % extent;
            if (along != 0 && indices[i] != indices[i - static_cast<size_t>(along * inner)]) repeats = false;
        }
        if (repeats) {
            reduced[a] = 1;
            any = true;
        }
        inner *= extent;
    }
    if (!any) return std::nullopt;
    return reduced;
}

}  // namespace

Expected<bool> RepeatedGatherIndices::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    for (Node* gather : nodesOfType(graph, "Gather")) {
        const Value* data = gather->input(0);
        const Value* indices = gather->input(1);
        if (!data || !indices || !data->isConstant() || !indices->isConstant() || data->constant->rank() < 1) continue;
        const int64_t axis = gather->attrs.getInt("axis", 0);
        if (axis != 0 && axis != -data->constant->rank()) continue;
        const Tensor& rows = *data->constant;
        const Tensor& at = *indices->constant;
        if (at.dtype() != DataType::kINT64 && at.dtype() != DataType::kINT32) continue;
        Node* add = uses.soleReaderIs(gather->output(0), "Add");
        if (!add) continue;
        // The Add's shape must come from its other operand alone, for the smaller constant to broadcast.
        const Value* other = otherInput(*add, gather->output(0));
        const auto otherExtents = staticExtents(other);
        const auto addExtents = staticExtents(add->output(0));
        if (!otherExtents || !addExtents || *otherExtents != *addExtents || other->dtype != rows.dtype()) continue;
        const std::vector<int64_t> values = at.toInt64Vector();
        const auto reduced = repeatFreeExtents(values, at.shape());
        if (!reduced) continue;

        // Rows of the first index of every repeat: the indices at position 0 along each cut axis.
        const int64_t count = rows.shape()[0];
        const size_t rowBytes = rows.byteSize() / static_cast<size_t>(std::max<int64_t>(count, 1));
        Shape outShape(reduced->begin(), reduced->end());
        outShape.insert(outShape.end(), rows.shape().begin() + 1, rows.shape().end());
        Tensor gathered = Tensor::allocate(rows.dtype(), outShape);
        const int64_t kept = shapeElementCount(Shape(reduced->begin(), reduced->end()));
        bool inRange = true;
        for (int64_t r = 0; r < kept && inRange; ++r) {
            int64_t flat = 0, rest = r, stride = 1;  // r's position in the full indices
            for (size_t a = reduced->size(); a-- > 0;) {
                flat += rest % (*reduced)[a] * stride;
                rest /= (*reduced)[a];
                stride *= at.shape()[a];
            }
            int64_t row = values[static_cast<size_t>(flat)];
            if (row < 0) row += count;
            inRange = row >= 0 && row < count;
            if (inRange)
                std::memcpy(static_cast<unsigned char*>(gathered.data()) + static_cast<size_t>(r) * rowBytes,
                            static_cast<const unsigned char*>(rows.data()) + static_cast<size_t>(row) * rowBytes, rowBytes);
        }
        if (!inRange) continue;  // the Gather reports the bad index when it runs
        Value* small = graph.addConstant(graph.uniqueValueName(gather->output(0)->name + "_rows"), std::move(gathered));
        for (Value*& in : add->inputs)
            if (in == gather->output(0)) in = small;
        removed.insert(gather);
        ctx.record("gathered " + gather->describe() + "'s repeated rows once (" + std::to_string(kept) + " of " +
                   std::to_string(at.elementCount()) + "), broadcast by " + add->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
