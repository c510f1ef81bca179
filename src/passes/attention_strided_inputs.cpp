#include "passes/attention_strided_inputs.h"

#include <algorithm>
#include <array>
#include <string>

#include "ir/ops/attention_views.h"
#include "ir/ops/shape_infer_helpers.h"
#include "passes/pattern_utils.h"
#include "passes/strided_view.h"

namespace kiln {

namespace {

// Attention's inputs and outputs beyond Q, K, V and the mask (a KV cache, nonpad_kv_seqlen, present_key /
// present_value, qk_matmul_output) keep their copies: the cache kernels read the new keys contiguously.
constexpr size_t kFirstCacheInput = 4;
constexpr size_t kFirstExtraOutput = 1;
/// Offsets and strides in elements that keep every head row 16-byte aligned for 2-byte types.
constexpr int64_t kVectorElements = 8;

/// Q, K or V (`input`) as a view of its source, in [batch, heads, seq, head] order; nullopt where some
/// dimension has no single stride or the head's elements are not adjacent.
std::optional<std::pair<Value*, AttentionInputView>> viewOf(const Node& attention, size_t input, int& copies) {
    Value* v = attention.input(input);
    auto traced = traceView(v);
    if (!traced) return std::nullopt;
    FactoredView view = traced->view;
    if (v->shape.size() == 3) {  // [batch, seq, heads * head]
        const int64_t heads = attention.attrs.getInt(input == 0 ? "q_num_heads" : "kv_num_heads", 0);
        const std::vector<int64_t> bsh = view.shape();
        if (heads <= 0 || bsh[2] % heads != 0 || !view.reshape({bsh[0], bsh[1], heads, bsh[2] / heads}) ||
            !view.transpose({0, 2, 1, 3}))
            return std::nullopt;
    } else if (v->shape.size() != 4) {
        return std::nullopt;
    }
    const auto strided = view.strided();
    if (!strided || strided->strides[3] != 1) return std::nullopt;
    const std::vector<int64_t>& e = strided->shape;
    std::array<int64_t, 3> strides = {strided->strides[0], strided->strides[1], strided->strides[2]};
    // A dimension of extent 1 is never stepped along: give it a stride as aligned as the others'.
    int64_t reach = e[3];
    for (size_t k = 0; k < 3; ++k) reach = std::max(reach, strides[k] * e[k]);
    for (size_t k = 0; k < 3; ++k)
        if (e[k] == 1) strides[k] = reach;
    AttentionInputView result{e[0], e[1], e[2], e[3], strided->offset, strides[0], strides[1], strides[2]};
    copies += traced->copies;
    return std::make_pair(traced->source, result);
}

/// Whether everything that reads `v`, through rearrangements, ends at Q, K or V of `attention`: then v's
/// layout is the attention's to choose.
bool onlyRearrangedInto(const Graph& graph, const Value* v, const Node& attention) {
    std::vector<const Value*> pending = {v};
    while (!pending.empty()) {
        const Value* at = pending.back();
        pending.pop_back();
        if (graph.isGraphOutput(at)) return false;
        for (const Node* reader : graph.consumers(at)) {
            for (size_t i = 0; i < reader->inputs.size(); ++i)
                if (reader->inputs[i] == at && (reader == &attention ? i > 2 : i > 0)) return false;
            if (reader == &attention) continue;
            if (!isRearrangement(reader)) return false;
            for (const Value* out : reader->outputs)
                if (out) pending.push_back(out);
        }
    }
    return true;
}

/// torch's sequence-first attention projects a transposed input: Q, K and V's source is
/// MatMul(Transpose(x, perm), W) with perm keeping the last axis. The projection acts on rows, so it may
/// read x and a Transpose after it rebuild its result, which the attention's views then read through:
/// the transpose goes with the other copies. Only where that result feeds nothing else (its layout is
/// then the attention's) and the transposed input nothing but the projection. True when it rewrote.
bool sinkTransposeBelowProjection(Graph& graph, Value* source, const Node& attention) {
    Node* projection = source->producer;
    // A residual input has the result's layout: it would need transposing too.
    if (!projection || !isMatMulLike(*projection) || projection->hasInput(3) || !projection->input(1) || projection->input(1)->shape.size() != 2)
        return false;
    Value* transposed = projection->input(0);
    Node* transpose = producerIs(transposed, "Transpose");
    if (!transpose || graph.consumers(transposed).size() != 1 || graph.isGraphOutput(transposed)) return false;
    Value* x = transpose->input(0);
    const size_t rank = x->shape.size();
    const std::vector<int64_t> perm = shapeinfer::transposePerm(transpose->attrs.getInts("perm"), rank);
    if (rank < 2 || perm.size() != rank || perm.back() != static_cast<int64_t>(rank) - 1 ||
        !onlyRearrangedInto(graph, source, attention))
        return false;
    Value* unpermuted = graph.addValue(graph.uniqueValueName(source->name + "_unpermuted"), source->dtype);
    unpermuted->shape = x->shape;
    unpermuted->shape.back() = source->shape.back();
    unpermuted->typeKnown = true;
    projection->inputs[0] = x;
    projection->outputs[0] = unpermuted;
    unpermuted->producer = projection;
    unpermuted->producerOutput = 0;
    Node* after = addReplacementNode(graph, "Transpose", "", {unpermuted}, {source}, {transpose});
    after->attrs.set("perm", perm);
    return true;
}

bool vectorAligned(const AttentionInputView& v) {
    return v.offset % kVectorElements == 0 && v.batchStride % kVectorElements == 0 &&
           v.headStride % kVectorElements == 0 && v.seqStride % kVectorElements == 0;
}

}  // namespace

Expected<bool> AttentionStridedInputs::run(Graph& graph, PassContext& ctx) {
    bool changed = false;
    bool reordered = false;  // a Transpose was added after the layers reading it: sort again
    for (Node* attention : nodesOfType(graph, "Attention")) {
        if (attention->inputs.size() < 3 || attention->attrs.has(kQkvViewsAttribute)) continue;
        bool extras = false;
        for (size_t i = kFirstCacheInput; i < attention->inputs.size(); ++i) extras = extras || attention->hasInput(i);
        for (size_t i = kFirstExtraOutput; i < attention->outputs.size(); ++i) extras = extras || attention->output(i);
        const Value* y = attention->output(0);
        if (extras || !y || !y->typeKnown || (y->shape.size() != 3 && y->shape.size() != 4)) continue;

        AttentionInputViews views;
        views.outputRank = static_cast<int64_t>(y->shape.size());
        std::array<Value*, 3> sources{};
        int copies = 0;
        auto traceAll = [&]() {
            copies = 0;
            for (size_t i = 0; i < 3; ++i) {
                auto view = viewOf(*attention, i, copies);
                if (!view || !vectorAligned(view->second) || view->first->dtype != attention->input(i)->dtype)
                    return false;
                std::tie(sources[i], views.qkv[i]) = *view;
            }
            return true;
        };
        if (!traceAll() || copies == 0) continue;
        if (sources[1] == sources[0] && sources[2] == sources[0] &&
            sinkTransposeBelowProjection(graph, sources[0], *attention)) {
            reordered = true;
            if (!traceAll()) return internalError("attention-strided-inputs: " + attention->describe() +
                                                  " lost its views when its projection's transpose moved");
        }
        for (size_t i = 0; i < 3; ++i) attention->inputs[i] = sources[i];
        attention->attrs.set(kQkvViewsAttribute, encodeAttentionInputViews(views));
        ctx.record("fed " + attention->describe() + " Q, K and V by strides from " + sources[0]->name +
                   (sources[1] != sources[0] || sources[2] != sources[0] ? " and others" : "") + " (" +
                   std::to_string(copies) + " copying layers on the way)");
        changed = true;
    }
    if (reordered) KILN_RETURN_IF_ERROR(finishRewrite(graph, {}));
    return changed;
}

}  // namespace kiln
