#include "passes/channels_last_layout.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <unordered_map>

#include "ir/ops/channels_last_perm.h"
#include "ir/ops/layout_attributes.h"
#include "passes/constant_folding.h"
#include "passes/dead_layer_elimination.h"
#include "passes/layout_cancellation.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// One-input elementwise ops: an element of the output depends on the same element of the input,
/// whatever the layout. Clip's min and max are scalars.
const std::set<std::string> kUnaryOps = {
    "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu", "Gelu",
    "Softplus", "Softsign", "Mish", "Erf", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil",
    "Round", "Sign", "Identity", "ThresholdedRelu", "Clip", "Cast"};
/// Elementwise ops over broadcast operands: the same permutation of every (rank-4) operand permutes the output.
const std::set<std::string> kBroadcastOps = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu"};

/// How a rewritten layer gets one of its inputs.
enum class Operand {
    kAbsent,         // an omitted optional input
    kKeep,           // read as it is: no channel layout (a bias, a scalar, reduction axes)
    kChannelsLast,   // a value already in NHWC
    kToChannelsLast  // an NCHW operand: leading unit axes up to rank 4, then a Transpose to NHWC
};

struct OperandPlan {
    Operand how{Operand::kAbsent};
    Value* value{nullptr};  // the value read (kToChannelsLast: the NCHW operand before its transpose)
    SymShape shape;         // the shape the rewritten layer reads
};

/// A layer as it is rewritten to NHWC: op, attributes, inputs, and its output's NHWC shape.
struct LayerPlan {
    std::string opType, domain;
    AttributeMap attrs;
    std::vector<OperandPlan> inputs;
    SymShape outputShape;
};

bool isToChannelsFirst(const Node& node) {
    return node.domain.empty() && node.opType == "Transpose" && node.input(0) && node.input(0)->typeKnown &&
           node.input(0)->shape.size() == 4 && node.attrs.getInts("perm", {}) == permVector(kToChannelsFirst);
}

/// Every extent known to be 1 (a scalar or a broadcast constant): it reads the same in either layout.
bool isScalarLike(const Value* v) {
    if (!v->typeKnown) return false;
    for (const Dim& d : v->shape)
        if (!d.isKnown() || d.value != 1) return false;
    return true;
}

/// The one non-null output of `node`, when it has exactly one and its shape is a known rank 4.
Value* singleRank4Output(const Node& node) {
    Value* out = nullptr;
    for (Value* v : node.outputs) {
        if (!v) continue;
        if (out) return nullptr;
        out = v;
    }
    return out && out->typeKnown && out->shape.size() == 4 ? out : nullptr;
}

class Rewriter {
public:
    Rewriter(Graph& graph, const std::set<DataType>& types, const BackendSupport& supports, PassContext& ctx)
        : mGraph(graph), mTypes(types), mSupports(supports), mCtx(ctx) {}

    /// Step 1: every eligible convolution to a channels-last FusedConv. Returns whether any changed.
    bool convertConvolutions() {
        std::vector<Node*> nodes;
        for (const auto& node : mGraph.nodes()) nodes.push_back(node.get());
        bool changed = false;
        for (Node* node : nodes) {
            auto plan = planConvolution(*node);
            if (!plan || !supported(*plan, *node)) continue;
            const std::string before = node->describe();
            mPending.push_back(apply(*node, *plan));
            mCtx.record("made " + before + " a channels-last FusedConv");
            changed = true;
        }
        return changed;
    }

    /// Step 2: each to-NCHW Transpose moves below every consumer that can read NHWC instead; the
    /// consumer's output gets the Transpose (which moves on in turn). Other consumers keep the original.
    void sinkTransposes() {
        while (!mPending.empty()) {
            Node* transpose = mPending.front();
            mPending.pop_front();
            Value* nchw = transpose->output(0);
            Value* nhwc = transpose->input(0);
            for (Node* consumer : mGraph.consumers(nchw)) {
                auto plan = planSink(*consumer, nchw, nhwc);
                if (!plan || !supported(*plan, *consumer)) continue;
                const std::string before = consumer->describe();
                mPending.push_back(apply(*consumer, *plan));
                mCtx.record("moved the NCHW transpose of " + transpose->describe() + " below " + before);
            }
        }
    }

private:
    std::optional<LayerPlan> planConvolution(const Node& node) const {
        const bool conv = node.domain.empty() && node.opType == "Conv";
        const bool fused = node.domain == "kiln" && node.opType == "FusedConv" &&
                           node.attrs.getInt(kChannelsLastAttribute, 0) == 0;
        if (!conv && !fused) return std::nullopt;
        const Value* x = node.input(0);
        const Value* w = node.input(1);
        const Value* y = singleRank4Output(node);
        if (!x || !w || !y || !x->typeKnown || !w->typeKnown || x->shape.size() != 4 || w->shape.size() != 4 ||
            !mTypes.count(x->dtype))
            return std::nullopt;
        LayerPlan plan{"FusedConv", "kiln", node.attrs, {}, permuteRank4(y->shape, kToChannelsLast)};
        plan.attrs.set(kChannelsLastAttribute, int64_t{1});
        for (size_t i = 0; i < node.inputs.size(); ++i) {
            Value* in = node.inputs[i];
            if (!in) {
                plan.inputs.push_back({});
            } else if (i == 2) {  // the bias, over K in either layout
                plan.inputs.push_back({Operand::kKeep, in, in->shape});
            } else {
                if (!in->typeKnown || in->shape.size() != 4) return std::nullopt;
                auto operand = toChannelsLast(in);
                if (!operand) return std::nullopt;
                plan.inputs.push_back(*operand);
            }
        }
        return plan;
    }

    /// `consumer` reading `nhwc` (the input of the to-NCHW Transpose making `nchw`) in place of `nchw`.
    std::optional<LayerPlan> planSink(const Node& consumer, const Value* nchw, Value* nhwc) {
        const Value* out = singleRank4Output(consumer);
        if (!out || consumer.outputs[0] != out) return std::nullopt;
        if (std::find(consumer.inputs.begin(), consumer.inputs.end(), nchw) == consumer.inputs.end())
            return std::nullopt;  // listed twice among the readers and already rewritten
        LayerPlan plan{consumer.opType, consumer.domain, consumer.attrs, {}, permuteRank4(out->shape, kToChannelsLast)};
        const OperandPlan sunk{Operand::kChannelsLast, nhwc, nhwc->shape};
        const std::string& op = consumer.opType;
        if (consumer.domain.empty() && (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
                                        op == "GlobalMaxPool")) {
            if (consumer.inputs.size() != 1) return std::nullopt;
            if (op == "MaxPool" || op == "AveragePool") {
                plan.opType = "ChannelsLastPool";
                plan.domain = "kiln";
                plan.attrs.set(kChannelsLastPoolAttribute, op);
                plan.inputs = {sunk};
            } else {
                // Global pooling is a reduction over H and W (axes 1 and 2 of NHWC) keeping them as 1.
                plan.opType = op == "GlobalAveragePool" ? "ReduceMean" : "ReduceMax";
                plan.attrs = AttributeMap();
                plan.attrs.set("keepdims", int64_t{1});
                plan.inputs = {sunk, {Operand::kKeep, spatialAxes(), SymShape{Dim(2)}}};
            }
            return plan;
        }
        const bool concat = consumer.domain.empty() && op == "Concat";
        const bool unary = consumer.domain.empty() && kUnaryOps.count(op);
        const bool broadcast = (consumer.domain.empty() && kBroadcastOps.count(op)) ||
                               (consumer.domain == "kiln" && op == "FusedPointwise");
        if (!concat && !unary && !broadcast) return std::nullopt;
        if (concat) {
            const int64_t axis = consumer.attrs.getInt("axis", 0);
            if (axis != 1 && axis != -3) return std::nullopt;
            plan.attrs.set("axis", int64_t{3});
        }
        for (size_t i = 0; i < consumer.inputs.size(); ++i) {
            Value* in = consumer.inputs[i];
            if (in == nchw) {
                plan.inputs.push_back(sunk);
            } else if (!in) {
                plan.inputs.push_back({});
            } else if (!concat && isScalarLike(in)) {
                plan.inputs.push_back({Operand::kKeep, in, in->shape});
            } else if (unary || !in->typeKnown || (concat && in->shape.size() != 4)) {
                return std::nullopt;
            } else {
                auto operand = toChannelsLast(in);
                if (!operand) return std::nullopt;
                // A computed operand as large as the output would need a Transpose as large as the one
                // moved: the layer stays a boundary (it moves later if that operand turns NHWC too).
                if (operand->how == Operand::kToChannelsLast && !in->isConstant() && !isBroadcast(in->shape, out->shape))
                    return std::nullopt;
                plan.inputs.push_back(*operand);
            }
        }
        return plan;
    }

    /// Whether an operand of `shape` is broadcast along some axis of `output` (an extent 1 against a larger one).
    static bool isBroadcast(const SymShape& shape, const SymShape& output) {
        const SymShape full = lifted(shape);
        for (size_t i = 0; i < 4; ++i)
            if (full[i].isKnown() && full[i].value == 1 && !(output[i].isKnown() && output[i].value == 1)) return true;
        return false;
    }

    /// How an NCHW operand of rank <= 4 is read in NHWC: the input of its own to-NCHW Transpose when
    /// it has one, else itself with leading unit axes and a Transpose.
    std::optional<OperandPlan> toChannelsLast(Value* v) const {
        if (!v->typeKnown || v->shape.size() > 4) return std::nullopt;
        if (v->producer && isToChannelsFirst(*v->producer)) {
            Value* nhwc = v->producer->input(0);
            return OperandPlan{Operand::kChannelsLast, nhwc, nhwc->shape};
        }
        return OperandPlan{Operand::kToChannelsLast, v, permuteRank4(lifted(v->shape), kToChannelsLast)};
    }

    static SymShape lifted(const SymShape& shape) {
        SymShape out(4 - shape.size(), Dim(1));
        out.insert(out.end(), shape.begin(), shape.end());
        return out;
    }

    Value* spatialAxes() {
        if (!mSpatialAxes) {
            Tensor axes = Tensor::allocate(DataType::kINT64, {2});
            axes.data<int64_t>()[0] = 1;
            axes.data<int64_t>()[1] = 2;
            mSpatialAxes = mGraph.addConstant(mGraph.uniqueValueName("nhwc_spatial_axes"), std::move(axes));
        }
        return mSpatialAxes;
    }

    /// Whether the backend runs the planned layer and the transposes it needs, asked with trial copies
    /// of the values (the graph is not touched).
    bool supported(const LayerPlan& plan, const Node& original) const {
        std::deque<Value> values;
        auto trialValue = [&](const Value& like, const SymShape& shape, bool keepContents) {
            Value& v = values.emplace_back(like);
            v.shape = shape;
            if (!keepContents) v.constant.reset();
            return &v;
        };
        std::string reason;
        Node trial = original;
        trial.opType = plan.opType;
        trial.domain = plan.domain;
        trial.attrs = plan.attrs;
        trial.inputs.clear();
        for (const OperandPlan& operand : plan.inputs) {
            if (operand.how == Operand::kAbsent) {
                trial.inputs.push_back(nullptr);
                continue;
            }
            trial.inputs.push_back(trialValue(*operand.value, operand.shape, operand.how == Operand::kKeep));
            if (operand.how != Operand::kToChannelsLast || operand.value->isConstant()) continue;
            // A computed operand's Transpose runs on the backend too (constant ones fold at build time).
            Node transpose;
            transpose.name = original.name + "_to_nhwc";
            transpose.opType = "Transpose";
            transpose.attrs.set("perm", permVector(kToChannelsLast));
            transpose.inputs = {trialValue(*operand.value, lifted(operand.value->shape), false)};
            transpose.outputs = {trial.inputs.back()};
            if (!mSupports(transpose, &reason)) return refused(original, reason);
        }
        trial.outputs = {trialValue(*original.outputs[0], plan.outputShape, false)};
        if (!mSupports(trial, &reason)) return refused(original, reason);
        Node back;
        back.name = original.name + "_to_nchw";
        back.opType = "Transpose";
        back.attrs.set("perm", permVector(kToChannelsFirst));
        back.inputs = {trial.outputs[0]};
        back.outputs = {original.outputs[0]};
        return mSupports(back, &reason) || refused(original, reason);
    }

    bool refused(const Node& node, const std::string& reason) const {
        mCtx.log.verbose("channels-last layout: " + node.describe() + " stays NCHW: " + reason);
        return false;
    }

    Value* newValue(const std::string& base, DataType type, SymShape shape) {
        Value* v = mGraph.addValue(mGraph.uniqueValueName(base), type);
        v->shape = std::move(shape);
        v->typeKnown = true;
        return v;
    }

    /// The value a rewritten layer reads for `operand`, making its Unsqueeze and Transpose once per value.
    Value* materialize(const OperandPlan& operand, const Node& reader) {
        if (operand.how != Operand::kToChannelsLast) return operand.value;
        Value* nchw = operand.value;
        auto cached = mChannelsLastCopies.find(nchw);
        if (cached != mChannelsLastCopies.end()) return cached->second;
        Value* source = nchw;
        const size_t missing = 4 - nchw->shape.size();
        if (missing > 0) {
            Tensor axes = Tensor::allocate(DataType::kINT64, {static_cast<int64_t>(missing)});
            for (size_t i = 0; i < missing; ++i) axes.data<int64_t>()[i] = static_cast<int64_t>(i);
            Value* axesValue = mGraph.addConstant(mGraph.uniqueValueName(nchw->name + "_lead_axes"), std::move(axes));
            source = newValue(nchw->name + "_rank4", nchw->dtype, lifted(nchw->shape));
            addReplacementNode(mGraph, "Unsqueeze", "", {nchw, axesValue}, {source}, {&reader});
        }
        Value* nhwc = newValue(nchw->name + "_nhwc", nchw->dtype, operand.shape);
        Node* transpose = addReplacementNode(mGraph, "Transpose", "", {source}, {nhwc}, {&reader});
        transpose->name = reader.name + "_to_nhwc";
        transpose->attrs.set("perm", permVector(kToChannelsLast));
        mChannelsLastCopies[nchw] = nhwc;
        return nhwc;
    }

    /// Rewrites `node` in place to `plan`; its output (name, readers, NCHW layout) is now made by a
    /// Transpose of the NHWC result, which is returned.
    Node* apply(Node& node, const LayerPlan& plan) {
        std::vector<Value*> inputs;
        for (const OperandPlan& operand : plan.inputs) inputs.push_back(materialize(operand, node));
        node.opType = plan.opType;
        node.domain = plan.domain;
        node.attrs = plan.attrs;
        node.inputs = std::move(inputs);
        Value* nchw = node.outputs[0];
        Value* nhwc = newValue(nchw->name + "_nhwc", nchw->dtype, plan.outputShape);
        nhwc->producer = &node;
        nhwc->producerOutput = 0;
        node.outputs.resize(1);
        node.outputs[0] = nhwc;
        Node* back = addReplacementNode(mGraph, "Transpose", "", {nhwc}, {nchw}, {&node});
        back->name = node.name + "_to_nchw";
        back->attrs.set("perm", permVector(kToChannelsFirst));
        return back;
    }

    Graph& mGraph;
    const std::set<DataType>& mTypes;
    const BackendSupport& mSupports;
    PassContext& mCtx;
    std::deque<Node*> mPending;  // to-NCHW Transposes still to sink
    std::unordered_map<const Value*, Value*> mChannelsLastCopies;
    Value* mSpatialAxes{nullptr};
};

}  // namespace

Expected<bool> ChannelsLastLayout::run(Graph& graph, PassContext& ctx) {
    Rewriter rewriter(graph, mTypes, mSupports, ctx);
    if (!rewriter.convertConvolutions()) return false;
    rewriter.sinkTransposes();
    if (!graph.topologicalSort()) return internalError("channels-last layout left the graph without a topological order");
    ShapeInferenceOptions options;
    options.evaluator = ctx.evaluator;
    KILN_RETURN_IF_ERROR(inferGraphShapes(graph, options).withContext("after the channels-last layout"));

    // The transposes left back to back cancel, the weight transposes fold, and the to-NCHW transposes
    // that every consumer moved past are dropped.
    LayoutCancellation cancellation;
    ConstantFolding folding;
    DeadLayerElimination deadLayers;
    for (Pass* cleanup : std::initializer_list<Pass*>{&cancellation, &folding, &deadLayers}) {
        PassContext inner{ctx.log, ctx.evaluator, {}};
        KILN_RETURN_IF_ERROR(cleanup->run(graph, inner).status());
        for (std::string& change : inner.changes) ctx.record(std::string(cleanup->name()) + ": " + change);
    }
    graph.removeUnusedValues();
    KILN_RETURN_IF_ERROR(inferGraphShapes(graph, options).withContext("after the channels-last layout"));
    return true;
}

}  // namespace kiln
