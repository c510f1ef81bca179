#include "passes/batchnorm_folding.h"

#include <cmath>
#include <unordered_set>

namespace kiln {

namespace {

bool allConstant(const Node& node, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
        if (!node.input(i) || !node.input(i)->isConstant()) return false;
    return true;
}

/// A tensor of `dtype` and `shape` from doubles (rounded once, at the end).
Tensor fromDoubles(DataType dtype, const Shape& shape, const std::vector<double>& values) {
    Tensor t = Tensor::allocate(dtype, shape);
    dispatchDataType(dtype, [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (size_t i = 0; i < values.size(); ++i) {
            if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                p[i] = T(static_cast<float>(values[i]));
            else
                p[i] = static_cast<T>(values[i]);
        }
    });
    return t;
}

}  // namespace

Expected<bool> BatchNormFolding::run(Graph& graph, PassContext& ctx) {
    std::unordered_set<const Node*> removed;
    for (const auto& bnPtr : graph.nodes()) {
        Node& bn = *bnPtr;
        if (bn.opType != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() != 5) continue;
        if (bn.attrs.getInt("training_mode", 0) != 0 || !allConstant(bn, 1, 5)) continue;
        bool extraOutputsUsed = false;
        for (size_t i = 1; i < bn.outputs.size(); ++i)
            if (bn.outputs[i] && (!graph.consumers(bn.outputs[i]).empty() || graph.isGraphOutput(bn.outputs[i])))
                extraOutputsUsed = true;
        Value* convOut = bn.input(0);
        Node* conv = convOut ? convOut->producer : nullptr;
        if (extraOutputsUsed || !conv || conv->opType != "Conv" || !conv->domain.empty() || removed.count(conv)) continue;
        if (graph.consumers(convOut).size() != 1 || graph.isGraphOutput(convOut) || !allConstant(*conv, 1, conv->inputs.size()))
            continue;
        const Tensor& w = *conv->input(1)->constant;
        if (!isFloatingType(w.dtype()) || w.rank() < 2) continue;
        int64_t outChannels = w.shape()[0];
        if (bn.input(1)->constant->elementCount() != outChannels) continue;

        double eps = bn.attrs.getFloat("epsilon", 1e-5f);
        std::vector<double> gamma = bn.input(1)->constant->toDoubleVector();
        std::vector<double> beta = bn.input(2)->constant->toDoubleVector();
        std::vector<double> mean = bn.input(3)->constant->toDoubleVector();
        std::vector<double> var = bn.input(4)->constant->toDoubleVector();
        std::vector<double> bias(static_cast<size_t>(outChannels), 0.0);
        if (conv->hasInput(2)) bias = conv->input(2)->constant->toDoubleVector();

        std::vector<double> weights = w.toDoubleVector();
        size_t perChannel = weights.size() / static_cast<size_t>(outChannels);
        std::vector<double> newBias(static_cast<size_t>(outChannels));
        for (size_t o = 0; o < static_cast<size_t>(outChannels); ++o) {
            double s = gamma[o] / std::sqrt(var[o] + eps);
            for (size_t k = 0; k < perChannel; ++k) weights[o * perChannel + k] *= s;
            newBias[o] = (bias[o] - mean[o]) * s + beta[o];
        }
        Value* newW = graph.addConstant(graph.uniqueValueName(conv->input(1)->name + "_bn"), fromDoubles(w.dtype(), w.shape(), weights));
        Value* newB = graph.addConstant(graph.uniqueValueName(conv->name + "_bn_bias"),
                                        fromDoubles(w.dtype(), {outChannels}, newBias));
        conv->inputs.resize(3);
        conv->inputs[1] = newW;
        conv->inputs[2] = newB;
        // The Conv now produces the BatchNormalization's output value (keeping its name).
        Value* bnOut = bn.outputs[0];
        conv->outputs[0] = bnOut;
        bnOut->producer = conv;
        bnOut->producerOutput = 0;
        bn.outputs.clear();
        convOut->producer = nullptr;
        conv->sourceNodes.insert(conv->sourceNodes.end(), bn.sourceNodes.begin(), bn.sourceNodes.end());
        removed.insert(&bn);
        ctx.record("folded " + bn.describe() + " into " + conv->describe());
    }
    if (removed.empty()) return false;
    graph.removeNodes([&](const Node& n) { return removed.count(&n) != 0; });
    graph.removeUnusedValues();
    return true;
}

}  // namespace kiln
