#include "passes/attention_head_layout.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "ir/ops/shape_infer_helpers.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

// Attention's optional inputs and outputs beyond Q, K, V and the mask: a KV cache, nonpad_kv_seqlen,
// present_key / present_value and qk_matmul_output keep the 4-D form.
constexpr size_t kFirstCacheInput = 4;
constexpr size_t kFirstExtraOutput = 1;

/// One entry of a Reshape target: a known extent, or "dimension `dim` of `source`" (from a Shape).
struct TargetEntry {
    std::optional<int64_t> extent;
    const Value* source{nullptr};
    int64_t dim{0};
};

std::optional<std::vector<int64_t>> unsqueezeAxes(const Node& unsqueeze) {
    if (auto attr = unsqueeze.attrs.getInts("axes")) return *attr;
    return unsqueeze.inputs.size() > 1 ? intsConstant(unsqueeze.input(1)) : std::nullopt;
}

/// The entries of a 1-D int64 shape value: a constant, Shape(x) (sliced or not), Unsqueeze(Gather(Shape(x),
/// i)), or a Concat of those along axis 0. Nullopt for anything else.
std::optional<std::vector<TargetEntry>> targetEntries(const Value* v) {
    if (auto values = intsConstant(v)) {
        if (v->constant->rank() != 1) return std::nullopt;
        std::vector<TargetEntry> entries;
        for (int64_t e : *values) entries.push_back({e, nullptr, 0});
        return entries;
    }
    if (Node* concat = producerIs(v, "Concat")) {
        if (concat->attrs.getInt("axis", 0) != 0) return std::nullopt;
        std::vector<TargetEntry> entries;
        for (const Value* part : concat->inputs) {
            auto sub = targetEntries(part);
            if (!sub) return std::nullopt;
            entries.insert(entries.end(), sub->begin(), sub->end());
        }
        return entries;
    }
    // Shape(x)[start:end] as a whole, or sliced with constant bounds and step 1.
    auto shapeDims = [](const Node* shape, int64_t from, int64_t to) -> std::optional<std::vector<TargetEntry>> {
        const Value* x = shape->input(0);
        if (!x || !x->typeKnown) return std::nullopt;
        const auto [start, end] = shapeinfer::shapeOpRange(shape->attrs, static_cast<int64_t>(x->shape.size()));
        std::vector<TargetEntry> all;
        for (int64_t d = start; d < end; ++d) all.push_back({std::nullopt, x, d});
        const auto count = static_cast<int64_t>(all.size());
        auto clampIndex = [count](int64_t i) { return std::min(std::max(i < 0 ? i + count : i, int64_t{0}), count); };
        from = clampIndex(from);
        to = clampIndex(to);
        if (from > to) return std::nullopt;
        return std::vector<TargetEntry>(all.begin() + from, all.begin() + to);
    };
    if (Node* shape = producerIs(v, "Shape")) return shapeDims(shape, 0, INT64_MAX);
    if (Node* slice = producerIs(v, "Slice")) {
        Node* shape = producerIs(slice->input(0), "Shape");
        auto starts = intsConstant(slice->input(1)), ends = intsConstant(slice->input(2));
        if (!shape || !starts || !ends || starts->size() != 1 || ends->size() != 1) return std::nullopt;
        if (slice->inputs.size() > 3 && slice->input(3)) {
            auto axes = intsConstant(slice->input(3));
            if (!axes || axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1)) return std::nullopt;
        }
        if (slice->inputs.size() > 4 && slice->input(4)) {
            auto steps = intsConstant(slice->input(4));
            if (!steps || steps->size() != 1 || (*steps)[0] != 1) return std::nullopt;
        }
        return shapeDims(shape, (*starts)[0], (*ends)[0]);
    }
    if (Node* unsqueeze = producerIs(v, "Unsqueeze")) {
        auto axes = unsqueezeAxes(*unsqueeze);
        Node* gather = producerIs(unsqueeze->input(0), "Gather");
        if (!axes || *axes != std::vector<int64_t>{0} || !gather || gather->attrs.getInt("axis", 0) != 0)
            return std::nullopt;
        auto index = intsConstant(gather->input(1));
        if (!index || index->size() != 1 || gather->input(1)->constant->rank() != 0) return std::nullopt;
        auto dims = targetEntries(gather->input(0));
        if (!dims) return std::nullopt;
        const auto count = static_cast<int64_t>(dims->size());
        const int64_t i = (*index)[0] < 0 ? (*index)[0] + count : (*index)[0];
        if (i < 0 || i >= count) return std::nullopt;
        return std::vector<TargetEntry>{(*dims)[static_cast<size_t>(i)]};
    }
    return std::nullopt;
}

/// Whether entry `e` of a Reshape of `x` provably keeps x's dimension `dim`.
bool keepsDim(const TargetEntry& e, const Value* x, int64_t dim) {
    if (e.source) return e.source == x && e.dim == dim;
    if (!e.extent) return false;
    if (*e.extent == 0) return true;  // ONNX's "copy the input's extent" (allowzero is checked by the caller)
    const Dim& d = x->shape[static_cast<size_t>(dim)];
    return d.isKnown() && d.value == *e.extent;
}

/// For Reshape(x [b, s, E]) -> [b, s, h, d] with h * d == E: the heads h and head size d.
std::optional<std::pair<int64_t, int64_t>> splitHeads(const Node& reshape) {
    const Value* x = reshape.input(0);
    if (!x || !x->typeKnown || x->shape.size() != 3 || reshape.attrs.getInt("allowzero", 0) != 0) return std::nullopt;
    auto entries = targetEntries(reshape.input(1));
    if (!entries || entries->size() != 4 || !keepsDim((*entries)[0], x, 0) || !keepsDim((*entries)[1], x, 1))
        return std::nullopt;
    const auto& h = (*entries)[2].extent;
    const auto& d = (*entries)[3].extent;
    const Dim& width = x->shape[2];
    if (!h || !d || *h <= 0 || *d <= 0 || !width.isKnown() || *h * *d != width.value) return std::nullopt;
    return std::make_pair(*h, *d);
}

/// Whether Reshape(z [b, s, h, d]) -> [b, s, h * d], given h * d.
bool mergesHeads(const Node& reshape, int64_t width) {
    const Value* z = reshape.input(0);
    if (!z || !z->typeKnown || z->shape.size() != 4 || reshape.attrs.getInt("allowzero", 0) != 0) return false;
    auto entries = targetEntries(reshape.input(1));
    return entries && entries->size() == 3 && keepsDim((*entries)[0], z, 0) && keepsDim((*entries)[1], z, 1) &&
           (*entries)[2].extent && *(*entries)[2].extent == width;
}

bool swapsHeadsAndSequence(const Node* transpose) {
    return transpose && transpose->attrs.getInts("perm") == std::optional<std::vector<int64_t>>({0, 2, 1, 3});
}

/// The nodes besides `reshape` that read `z` (the head-merge Transpose's output, which the rewrite
/// removes): Shape nodes whose results, through shape arithmetic, feed only `reshape`'s target. Nullopt when
/// some reader or result reaches anything else.
std::optional<std::vector<const Node*>> targetOnlyReaders(const Value* z, const Node& reshape, const Uses& uses) {
    std::vector<const Node*> nodes;
    std::vector<const Value*> frontier;
    for (Node* reader : uses.readers(z)) {
        if (reader == &reshape) continue;
        if (reader->opType != "Shape" || !reader->domain.empty()) return std::nullopt;
        nodes.push_back(reader);
        frontier.push_back(reader->output(0));
    }
    while (!frontier.empty()) {
        const Value* v = frontier.back();
        frontier.pop_back();
        if (uses.isOutput(v)) return std::nullopt;
        for (Node* reader : uses.readers(v)) {
            if (reader == &reshape && reader->input(1) == v) continue;
            static const std::set<std::string> kShapeArithmetic = {"Gather", "Unsqueeze", "Concat", "Slice"};
            if (!reader->domain.empty() || !kShapeArithmetic.count(reader->opType)) return std::nullopt;
            if (std::find(nodes.begin(), nodes.end(), reader) != nodes.end()) continue;
            nodes.push_back(reader);
            frontier.push_back(reader->output(0));
        }
    }
    return nodes;
}

}  // namespace

Expected<bool> AttentionHeadLayout::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    for (Node* attention : nodesOfType(graph, "Attention")) {
        if (attention->attrs.getInt("q_num_heads") || attention->inputs.size() < 3) continue;
        bool extras = false;
        for (size_t i = kFirstCacheInput; i < attention->inputs.size(); ++i) extras = extras || attention->hasInput(i);
        for (size_t i = kFirstExtraOutput; i < attention->outputs.size(); ++i) extras = extras || attention->output(i);
        if (extras) continue;

        // Q, K and V: each a Transpose(0, 2, 1, 3) of a Reshape splitting the last axis, read only here.
        std::vector<const Node*> chain;
        std::vector<Value*> packed;
        std::vector<std::pair<int64_t, int64_t>> heads;
        for (size_t i = 0; i < 3; ++i) {
            Value* t = attention->input(i);
            Node* transpose = producerIs(t, "Transpose");
            Node* reshape = transpose ? producerIs(transpose->input(0), "Reshape") : nullptr;
            if (!swapsHeadsAndSequence(transpose) || !uses.onlyFeeds(t) || !reshape ||
                !uses.onlyFeeds(transpose->input(0)))
                break;
            auto split = splitHeads(*reshape);
            if (!split) break;
            heads.push_back(*split);
            packed.push_back(reshape->inputs[0]);
            chain.push_back(transpose);
            chain.push_back(reshape);
        }
        if (packed.size() != 3 || heads[1].first != heads[2].first) continue;
        // The output: Transpose(0, 2, 1, 3) then a Reshape merging the heads, each read only there.
        Value* y = attention->output(0);
        Node* outTranspose = uses.soleReaderIs(y, "Transpose");
        if (!swapsHeadsAndSequence(outTranspose)) continue;
        const Value* z = outTranspose->output(0);
        Node* outReshape = nullptr;
        for (Node* reader : uses.readers(z))
            if (reader->opType == "Reshape" && reader->domain.empty() && reader->input(0) == z) outReshape = reader;
        if (!outReshape || uses.isOutput(z) || !mergesHeads(*outReshape, heads[0].first * heads[2].second)) continue;
        // A dynamic batch computes the merge's target from Shape(z): that arithmetic goes with z.
        auto targetNodes = targetOnlyReaders(z, *outReshape, uses);
        if (!targetNodes) continue;
        chain.push_back(outTranspose);
        chain.push_back(outReshape);
        chain.push_back(attention);

        std::vector<Value*> inputs = packed;
        for (size_t i = 3; i < attention->inputs.size(); ++i) inputs.push_back(attention->inputs[i]);
        Node* fused = addReplacementNode(graph, "Attention", "", inputs, {outReshape->output(0)}, chain);
        fused->attrs = attention->attrs;
        fused->attrs.set("q_num_heads", heads[0].first);
        fused->attrs.set("kv_num_heads", heads[1].first);
        for (const Node* n : chain) removed.insert(n);
        for (const Node* n : *targetNodes) removed.insert(n);
        ctx.record("fed " + fused->describe() + " its [batch, seq, heads * head] tensors (" +
                   std::to_string(chain.size() - 1) + " head splits and merges gone)");
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
