#include "passes/precision_assignment.h"

#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/half.h"
#include "ir/onnx_types.h"
#include "ir/op_registry.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

constexpr float kHalfMax = 65504.f;
constexpr float kBf16Max = 3.3895313892515355e38f;
// Constant contents handed to a trial node's type inference only up to this size (shape-like values);
// the contents of weights do not decide any op's output type.
constexpr int64_t kMaxTrialConstantElements = 4096;
// FP32 constants up to this size combine with integer-derived values into integer-derived values.
constexpr int64_t kMaxIndexConstantElements = 16;

bool isFp32(const Value* v) { return v && v->dtype == DataType::kFLOAT; }

/// Ops whose result depends on their input's shape alone (any element type gives the same output).
bool readsShapeOnly(const Node* node) {
    return node->domain.empty() && (node->opType == "Shape" || node->opType == "Size");
}

bool hasSubgraphs(const Node& node) {
    for (const auto& [name, value] : node.attrs.all())
        if (std::holds_alternative<std::shared_ptr<Graph>>(value) ||
            std::holds_alternative<std::vector<std::shared_ptr<Graph>>>(value))
            return true;
    return false;
}

/// `tensor` (FP32) in `type`, saturating finite values beyond its range; counts the saturated ones.
Tensor convertWeights(const Tensor& tensor, DataType type, int64_t* saturated) {
    Tensor out = Tensor::allocate(type, tensor.shape());
    const float* in = tensor.data<float>();
    const float limit = type == DataType::kHALF ? kHalfMax : kBf16Max;
    for (int64_t i = 0; i < tensor.elementCount(); ++i) {
        float v = in[i];
        if (std::isfinite(v) && std::fabs(v) > limit) {
            v = std::copysign(limit, v);
            ++*saturated;
        }
        if (type == DataType::kHALF)
            out.data<Half>()[i] = Half(v);
        else
            out.data<BFloat16>()[i] = BFloat16(v);
    }
    return out;
}

class Assignment {
public:
    Assignment(Graph& graph, DataType reduced, const BackendSupport& supports, PassContext& ctx)
        : mGraph(graph), mReduced(reduced), mSupports(supports), mCtx(ctx) {}

    bool run() {
        markIntegerDerived();
        for (const auto& node : mGraph.nodes())
            if (runsReduced(*node)) mReducedNodes.insert(node.get());
        keepIsolatedPointwiseInFp32();
        if (mReducedNodes.empty()) return false;
        retypeValues();
        mGraph.topologicalSort();
        report();
        return true;
    }

private:
    /// FP32 values computed from integers alone (a Cast of a mask or a position, arithmetic on them).
    void markIntegerDerived() {
        for (const auto& node : mGraph.nodes()) {
            bool anyVarying = false;
            bool allInteger = true;
            for (const Value* in : node->inputs) {
                if (!in) continue;
                if (in->isConstant()) {
                    // A scalar-like constant (1.0 - mask, * -10000) keeps the result index-like; a
                    // table (an embedding Gather) does not.
                    if (isFp32(in) && in->constant->elementCount() > kMaxIndexConstantElements) allInteger = false;
                    continue;
                }
                anyVarying = true;
                if (isFp32(in) ? mIntegerDerived.count(in) == 0 : isFloatingType(in->dtype)) allInteger = false;
            }
            if (!anyVarying || !allInteger) continue;
            for (const Value* out : node->outputs)
                if (isFp32(out)) mIntegerDerived.insert(out);
        }
    }

    /// A memory-bound layer gains from FP16 only by moving half the bytes; when every tensor it computes
    /// from would first need a reformat from FP32 (its producers keep FP32), the reformats cost more than
    /// that saves, so it keeps FP32 too. Compute-bound layers (GEMMs, convolutions, attention) keep FP16.
    void keepIsolatedPointwiseInFp32() {
        static const std::set<std::string> kComputeBound = {"MatMul", "Gemm", "FusedMatMul", "Conv", "FusedConv",
                                                            "ConvTranspose", "Attention", "FusedAttention", "Einsum"};
        for (bool changed = true; changed;) {
            changed = false;
            for (auto it = mReducedNodes.begin(); it != mReducedNodes.end();) {
                const Node& node = **it;
                bool anyFp32 = false, anyReduced = false;
                for (const Value* in : node.inputs) {
                    if (!isFp32(in) || in->isConstant()) continue;
                    anyFp32 = true;
                    anyReduced = anyReduced || (in->producer && mReducedNodes.count(in->producer));
                }
                if (kComputeBound.count(node.opType) || !anyFp32 || anyReduced) {
                    ++it;
                    continue;
                }
                it = mReducedNodes.erase(it);
                changed = true;
            }
        }
    }

    const Tensor& converted(const Value* v) {
        auto it = mConverted.find(v);
        if (it == mConverted.end()) it = mConverted.emplace(v, convertWeights(*v->constant, mReduced, &mSaturated)).first;
        return it->second;
    }

    bool runsReduced(const Node& node) {
        // Only layers that compute FP32 values (not index arithmetic) change: a layer whose outputs are of
        // other types (a Cast to int, a comparison, ArgMax) would only round its inputs first.
        bool computesFp32 = false;
        for (const Value* v : node.outputs) computesFp32 = computesFp32 || (isFp32(v) && mIntegerDerived.count(v) == 0);
        if (!computesFp32 || isPrecisionSensitive(node) || hasSubgraphs(node)) return false;
        const OpSchema* schema = OpRegistry::global().find(node.domain, node.opType);
        if (!schema || !schema->infer) return false;

        // The trial: the node with its FP32 tensors retyped.
        std::deque<Value> values;
        auto retyped = [&](const Value* v) -> Value* {
            if (!v) return nullptr;
            Value& copy = values.emplace_back(*v);
            if (isFp32(v)) {
                copy.dtype = mReduced;
                if (v->isConstant()) copy.constant = converted(v);
            }
            return &copy;
        };
        Node trial = node;
        for (Value*& v : trial.inputs) v = retyped(v);
        for (Value*& v : trial.outputs) v = retyped(v);

        // The op's type rule must give the retyped outputs from the retyped inputs.
        std::vector<ValueInfo> infos(trial.inputs.size());
        std::vector<const ValueInfo*> inputInfos(trial.inputs.size(), nullptr);
        for (size_t i = 0; i < trial.inputs.size(); ++i) {
            const Value* v = trial.inputs[i];
            if (!v) continue;
            infos[i] = ValueInfo{v->dtype, v->shape, true, std::nullopt, v->container};
            if (v->isConstant() && v->constant->elementCount() <= kMaxTrialConstantElements) infos[i].value = v->constant;
            inputInfos[i] = &infos[i];
        }
        InferenceContext inference(trial, inputInfos, trial.outputs.size());
        if (!schema->infer(inference).isOk()) return false;
        for (size_t i = 0; i < trial.outputs.size(); ++i) {
            const Value* v = trial.outputs[i];
            const ValueInfo& inferred = inference.outputs()[i];
            if (v && inferred.known && inferred.dtype != v->dtype) return false;
        }
        std::string reason;
        return mSupports(trial, &reason);
    }

    Value* reformat(Value* from, DataType to, const std::string& name) {
        ++mReformats;
        return addCastNode(mGraph, from, to, name, "reformat of " + from->name)->outputs[0];
    }

    static void rewire(const std::vector<Node*>& consumers, const Value* from, Value* to) {
        for (Node* consumer : consumers)
            for (Value*& in : consumer->inputs)
                if (in == from) in = to;
    }

    void retypeValues() {
        const char* suffix = mReduced == DataType::kHALF ? "_fp16" : "_bf16";
        std::vector<Value*> fp32Values;
        for (const auto& v : mGraph.values())
            if (v && isFp32(v.get())) fp32Values.push_back(v.get());
        for (Value* v : fp32Values) {
            std::vector<Node*> reduced, full;
            for (Node* consumer : mGraph.consumers(v)) (mReducedNodes.count(consumer) ? reduced : full).push_back(consumer);
            const bool isOutput = mGraph.isGraphOutput(v);
            if (v->isConstant()) {
                if (reduced.empty()) continue;
                if (full.empty() && !isOutput) {
                    v->constant = converted(v);
                    v->dtype = mReduced;
                } else {
                    Value* copy = mGraph.addConstant(mGraph.uniqueValueName(v->name + suffix), converted(v));
                    copy->shape = v->shape;
                    copy->typeKnown = true;
                    rewire(reduced, v, copy);
                }
            } else if (v->producer && mReducedNodes.count(v->producer)) {
                v->dtype = mReduced;
                // Shape and Size read no element: they take the reduced value as it is.
                std::erase_if(full, readsShapeOnly);
                if (!full.empty() || isOutput) {
                    // The FP32 copy takes over the original name, which the engine's outputs are bound by.
                    const std::string original = v->name;
                    v->name = mGraph.uniqueValueName(original + suffix);
                    Value* back = reformat(v, DataType::kFLOAT, v->name + "_to_fp32");
                    back->name = original;
                    rewire(full, v, back);
                    for (Value*& out : mGraph.mutableOutputs())
                        if (out == v) out = back;
                }
            } else if (!reduced.empty()) {
                rewire(reduced, v, reformat(v, mReduced, v->name + suffix));
            }
        }
    }

    void report() {
        const char* type = mReduced == DataType::kHALF ? "FP16" : "BF16";
        mCtx.record(std::to_string(mReducedNodes.size()) + " layers run in " + type + ", " + std::to_string(mReformats) +
                    " reformat layers convert between " + type + " and FP32");
        if (mSaturated > 0)
            mCtx.log.warning(std::to_string(mSaturated) + " weight values lie beyond " + type +
                             "'s range and were clamped to its largest finite value");
    }

    Graph& mGraph;
    DataType mReduced;
    const BackendSupport& mSupports;
    PassContext& mCtx;
    std::unordered_set<const Value*> mIntegerDerived;
    std::set<const Node*> mReducedNodes;
    std::unordered_map<const Value*, Tensor> mConverted;
    int64_t mSaturated{0};
    int64_t mReformats{0};
};

}  // namespace

bool isPrecisionSensitive(const Node& node) {
    // Sums and products over whole axes can leave FP16's range; losses reduce; Range and the random
    // generators make index-like or distribution values; Cast-like ops fix their output type themselves.
    static const std::set<std::string> kSensitive = {
        "ReduceSum",  "ReduceSumSquare", "ReduceProd",    "ReduceL1",        "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "CumSum",      "CumProd",         "NegativeLogLikelihoodLoss",
        "SoftmaxCrossEntropyLoss", "Range", "RandomNormal", "RandomNormalLike", "RandomUniform",
        "RandomUniformLike", "Multinomial", "Bernoulli", "Det", "DFT", "STFT", "MelWeightMatrix"};
    return node.domain.empty() && kSensitive.count(node.opType) != 0;
}

Expected<bool> PrecisionAssignment::run(Graph& graph, PassContext& ctx) {
    if (mReduced != DataType::kHALF && mReduced != DataType::kBF16)
        return invalidArgument("precision assignment: the reduced type must be float16 or bfloat16");
    return Assignment(graph, mReduced, mSupports, ctx).run();
}

}  // namespace kiln
