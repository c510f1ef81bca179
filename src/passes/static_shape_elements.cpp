#include "passes/static_shape_elements.h"

#include <unordered_set>

#include "ir/ops/shape_infer_helpers.h"
#include "passes/constant_folding.h"

namespace kiln {

namespace {

/// The extents Shape(x) reports: x's dims from `start` to `end` (opset 15's attributes, clamped).
std::vector<Dim> reportedDims(const Node& shapeNode, const SymShape& x) {
    const auto [start, end] = shapeinfer::shapeOpRange(shapeNode.attrs, static_cast<int64_t>(x.size()));
    std::vector<Dim> dims;
    for (int64_t d = start; d < end; ++d) dims.push_back(x[static_cast<size_t>(d)]);
    return dims;
}

/// The constant `node` (Gather or Slice over a Shape) computes, when every extent it picks is static.
std::optional<Tensor> staticPick(const Node& node, const std::vector<ValueInfo>& infos, const NodeEvaluator& evaluator) {
    const Value* data = node.inputs[0];
    const Node* shapeNode = data->producer;
    if (!shapeNode || shapeNode->opType != "Shape" || !shapeNode->domain.empty() || !shapeNode->inputs[0]) return {};
    const ValueInfo& x = infos[static_cast<size_t>(shapeNode->inputs[0]->id)];
    if (!x.known) return {};
    const std::vector<Dim> dims = reportedDims(*shapeNode, x.shape);
    // The op runs on the extents' positions: its result says which extents it picks.
    Tensor positions = Tensor::allocate(DataType::kINT64, {static_cast<int64_t>(dims.size())});
    for (size_t i = 0; i < dims.size(); ++i) positions.data<int64_t>()[i] = static_cast<int64_t>(i);
    std::vector<const Tensor*> inputs = {&positions};
    for (size_t i = 1; i < node.inputs.size(); ++i) {
        const Value* in = node.inputs[i];
        if (!in) {
            inputs.push_back(nullptr);
            continue;
        }
        const ValueInfo& info = infos[static_cast<size_t>(in->id)];
        if (!info.value) return {};  // indices, starts or ends known only while running
        inputs.push_back(&*info.value);
    }
    std::vector<ValueInfo> outputs = {infos[static_cast<size_t>(node.outputs[0]->id)]};
    if (!outputs[0].known || !isFullyKnown(outputs[0].shape)) return {};
    auto picked = evaluator.evaluate(node, inputs, outputs);
    if (!picked || picked->size() != 1 || (*picked)[0].dtype() != DataType::kINT64) return {};
    const Tensor& where = (*picked)[0];
    Tensor values = Tensor::allocate(DataType::kINT64, where.shape());
    for (int64_t i = 0; i < where.elementCount(); ++i) {
        const int64_t position = where.data<int64_t>()[i];
        if (position < 0 || position >= static_cast<int64_t>(dims.size()) || !dims[static_cast<size_t>(position)].isKnown())
            return {};
        values.data<int64_t>()[i] = dims[static_cast<size_t>(position)].value;
    }
    return values;
}

}  // namespace

Expected<size_t> foldStaticShapeElements(Graph& graph, const std::vector<ValueInfo>& infos, PassContext& ctx) {
    if (!ctx.evaluator) return size_t{0};
    std::unordered_set<const Node*> folded;
    for (const auto& node : graph.nodes()) {
        if (!node->domain.empty() || (node->opType != "Gather" && node->opType != "Slice")) continue;
        if (node->inputs.empty() || !node->inputs[0] || node->outputs.size() != 1 || !node->outputs[0]) continue;
        if (infos[static_cast<size_t>(node->outputs[0]->id)].value) continue;  // folded the usual way
        std::optional<Tensor> value = staticPick(*node, infos, *ctx.evaluator);
        if (!value) continue;
        ctx.record("folded " + node->describe() + " (it picks only static extents of a shape)");
        std::vector<Tensor> values;
        values.push_back(std::move(*value));
        replaceNodeByConstants(graph, *node, std::move(values));
        folded.insert(node.get());
    }
    if (!folded.empty()) {
        graph.removeNodes([&](const Node& n) { return folded.count(&n) != 0; });
        graph.removeUnusedValues();
    }
    return folded.size();
}

}  // namespace kiln
