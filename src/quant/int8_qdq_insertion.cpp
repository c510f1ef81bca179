#include "quant/int8_qdq_insertion.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

namespace kiln {

namespace {

/// The largest int8 magnitude of a symmetric quantization: TensorRT maps amax to 127 (not -128), so
/// the positive and negative ranges match.
constexpr float kInt8Max = 127.0f;

/// Which inputs of a quantized operator are data operands (activations or weights): Conv's and
/// ConvTranspose's X and W, MatMul's and Gemm's A and B. Biases stay in float, as TensorRT keeps them.
std::vector<size_t> dataOperands(const Node& node) {
    if (!node.domain.empty()) return {};
    if (node.opType == "Conv" || node.opType == "ConvTranspose" || node.opType == "MatMul" || node.opType == "Gemm")
        return {0, 1};
    return {};
}

bool isQuantizableActivation(const Value* v) {
    return v && !v->isConstant() && v->typeKnown && v->dtype == DataType::kFLOAT;
}

/// The axis of a constant weight's output channels, for its per-channel scale; -1 for one per tensor.
int64_t outputChannelAxis(const Node& node, size_t input, const Value& weight) {
    const auto rank = static_cast<int64_t>(weight.constant->rank());
    if (rank == 0) return -1;
    if (node.opType == "Conv") return input == 1 ? 0 : -1;  // W: [M, C/group, k...]
    if (node.opType == "ConvTranspose") {
        // W: [C, M/group, k...]: axis 1 holds whole output channels only without groups.
        return input == 1 && node.attrs.getInt("group", 1) == 1 && rank >= 2 ? 1 : -1;
    }
    if (node.opType == "Gemm") {
        if (rank != 2) return -1;
        if (input == 1) return node.attrs.getInt("transB", 0) ? 0 : 1;  // B: [K, N], or [N, K] transposed
        return -1;  // a constant A: rows are not output channels of anything the scale could follow
    }
    // MatMul: B's last axis holds the output columns; a constant A has no per-channel axis.
    return input == 1 && rank >= 2 ? rank - 1 : -1;
}

/// Symmetric per-channel (or per-tensor, axis -1) scales: max|w| / 127 along every other axis. An
/// all-zero channel gets scale 1: its values quantize to 0 whatever the scale, and Q needs one > 0.
Tensor weightScales(const Tensor& weight, int64_t axis) {
    const std::vector<double> w = weight.toDoubleVector();
    const Shape& shape = weight.shape();
    const int64_t channels = axis < 0 ? 1 : shape[static_cast<size_t>(axis)];
    int64_t inner = 1;
    if (axis >= 0)
        for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
    std::vector<double> amax(static_cast<size_t>(channels), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
        const auto c = axis < 0 ? 0 : static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels);
        if (std::isfinite(w[i])) amax[c] = std::max(amax[c], std::fabs(w[i]));
    }
    Tensor scales = axis < 0 ? Tensor::allocate(DataType::kFLOAT, {}) : Tensor::allocate(DataType::kFLOAT, {channels});
    for (size_t c = 0; c < amax.size(); ++c) scales.data<float>()[c] = amax[c] > 0 ? static_cast<float>(amax[c] / kInt8Max) : 1.0f;
    return scales;
}

/// Q -> DQ of `value` with `scale` (scalar or per `axis`); returns the dequantized value.
Value* insertQdq(Graph& graph, Value* value, Tensor scale, int64_t axis) {
    const Shape zeroShape = scale.shape();
    Value* scaleValue = graph.addConstant(graph.uniqueValueName(value->name + "_int8_scale"), std::move(scale));
    Value* zeroPoint = graph.addConstant(graph.uniqueValueName(value->name + "_int8_zero_point"),
                                         Tensor::allocate(DataType::kINT8, zeroShape));
    Node* q = graph.addNode("QuantizeLinear", value->name + "_QuantizeLinear", {value, scaleValue, zeroPoint},
                            {graph.uniqueValueName(value->name + "_int8")});
    Node* dq = graph.addNode("DequantizeLinear", value->name + "_DequantizeLinear", {q->outputs[0], scaleValue, zeroPoint},
                             {graph.uniqueValueName(value->name + "_dequantized")});
    if (axis >= 0) {
        q->attrs.set("axis", axis);
        dq->attrs.set("axis", axis);
    }
    q->outputs[0]->dtype = DataType::kINT8;
    q->outputs[0]->shape = value->shape;
    q->outputs[0]->typeKnown = true;
    dq->outputs[0]->dtype = DataType::kFLOAT;
    dq->outputs[0]->shape = value->shape;
    dq->outputs[0]->typeKnown = true;
    return dq->outputs[0];
}

}  // namespace

std::vector<const Value*> quantizableActivations(const Graph& graph) {
    std::vector<const Value*> found;
    std::set<const Value*> seen;
    for (const auto& node : graph.nodes())
        for (size_t i : dataOperands(*node)) {
            const Value* v = node->input(i);
            if (isQuantizableActivation(v) && seen.insert(v).second) found.push_back(v);
        }
    return found;
}

Expected<bool> Int8QdqInsertion::run(Graph& graph, PassContext& ctx) {
    // One Q/DQ pair per tensor, shared by all its quantized readers (as ModelOpt places them).
    std::unordered_map<const Value*, Value*> dequantized;
    size_t activations = 0, weights = 0, layers = 0;
    std::vector<Node*> targets;
    for (const auto& node : graph.nodes())
        if (!dataOperands(*node).empty()) targets.push_back(node.get());
    for (Node* node : targets) {
        // The layer is quantized when its activation operands all have a scale: INT8 needs both of a
        // product's operands in INT8, so a half-quantized layer would only lose accuracy.
        bool quantize = false, missing = false;
        for (size_t i : dataOperands(*node)) {
            const Value* v = node->input(i);
            if (!isQuantizableActivation(v)) continue;
            auto it = mScales.find(v->name);
            if (it == mScales.end() || !(it->second > 0)) missing = true;
            else quantize = true;
        }
        if (!quantize || missing) continue;
        for (size_t i : dataOperands(*node)) {
            Value* v = node->input(i);
            if (!v) continue;
            auto done = dequantized.find(v);
            if (done == dequantized.end()) {
                Value* dq = nullptr;
                if (isQuantizableActivation(v)) {
                    dq = insertQdq(graph, v, Tensor::scalarFloat(mScales.at(v->name)), -1);
                    ++activations;
                } else if (v->isConstant() && v->dtype == DataType::kFLOAT && v->constant->elementCount() > 0) {
                    const int64_t axis = outputChannelAxis(*node, i, *v);
                    dq = insertQdq(graph, v, weightScales(*v->constant, axis), axis);
                    ++weights;
                } else {
                    continue;  // another type (an int64 shape, a float16 weight): left as it is
                }
                done = dequantized.emplace(v, dq).first;
            }
            node->inputs[i] = done->second;
        }
        ++layers;
    }
    if (layers == 0) return false;
    if (!graph.topologicalSort()) return internalError("Int8QdqInsertion: the graph lost its topological order");
    ctx.record("quantized " + std::to_string(layers) + " layers to INT8: " + std::to_string(activations) +
               " activation and " + std::to_string(weights) + " weight QuantizeLinear/DequantizeLinear pairs");
    return true;
}

}  // namespace kiln
