#include "passes/channels_first_conv_input.h"

#include <string>
#include <unordered_set>
#include <vector>

#include "ir/ops/channels_last_perm.h"
#include "ir/ops/layout_attributes.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// The channels-last FusedConv that alone reads the output of `transpose` (a to-NHWC Transpose of a
/// known rank-4 tensor) as its X, when it can read the Transpose's input instead; else nullptr.
Node* convReadingAsX(const Node& transpose, const Uses& uses) {
    if (!transpose.domain.empty() || transpose.opType != "Transpose" ||
        transpose.attrs.getInts("perm", {}) != permVector(kToChannelsLast))
        return nullptr;
    const Value* nchw = transpose.input(0);
    const Value* nhwc = transpose.output(0);
    if (!nchw || !nchw->typeKnown || nchw->shape.size() != 4 || !uses.onlyFeeds(nhwc)) return nullptr;
    Node* conv = uses.readers(nhwc)[0];
    if (conv->domain != "kiln" || conv->opType != "FusedConv" || conv->input(0) != nhwc ||
        conv->attrs.getInt(kChannelsLastAttribute, 0) != 1 ||
        conv->attrs.getInt(kInputChannelsFirstAttribute, 0) != 0 || conv->attrs.getInt("group", 1) != 1)
        return nullptr;
    const Dim& channels = nchw->shape[1];
    if (!channels.isKnown() || channels.value > kChannelsFirstInputMaxChannels) return nullptr;
    // W is [K, R, S, C] in the channels-last form.
    const Value* w = conv->input(1);
    if (!w || w->shape.size() != 4 || !w->shape[1].isKnown() || !w->shape[2].isKnown() ||
        channels.value * w->shape[1].value * w->shape[2].value > kChannelsFirstInputMaxTaps)
        return nullptr;
    return conv;
}

/// The Cast from float to float16 / bfloat16 that makes `v` and is read only there, or nullptr.
Node* roundingCast(const Value* v, const Uses& uses) {
    Node* cast = producerIs(v, "Cast");
    if (!cast || !uses.onlyFeeds(v) || !cast->input(0) || !cast->input(0)->typeKnown ||
        cast->input(0)->dtype != DataType::kFLOAT || (v->dtype != DataType::kHALF && v->dtype != DataType::kBF16))
        return nullptr;
    return cast;
}

}  // namespace

Expected<bool> ChannelsFirstConvInput::run(Graph& graph, PassContext& ctx) {
    const Uses uses(graph);
    std::unordered_set<const Node*> removed;
    for (Node* transpose : nodesOfType(graph, "Transpose")) {
        Node* conv = convReadingAsX(*transpose, uses);
        if (!conv) continue;
        // The float image before a rounding Cast first (the Cast goes too), else the Transpose's input;
        // each asked with a trial copy, so the graph changes only where the backend runs the form.
        Node* cast = roundingCast(transpose->input(0), uses);
        std::vector<Node*> sources = {transpose};
        if (cast) sources.insert(sources.begin(), cast);
        std::string reason;
        bool rewritten = false;
        for (Node* source : sources) {
            Node trial = *conv;
            trial.inputs[0] = source->inputs[0];
            trial.attrs.set(kInputChannelsFirstAttribute, int64_t{1});
            if (!mSupports(trial, &reason)) continue;
            conv->inputs[0] = source->inputs[0];
            conv->attrs.set(kInputChannelsFirstAttribute, int64_t{1});
            removed.insert(transpose);
            if (source == cast) removed.insert(cast);
            ctx.record(conv->describe() + " reads the NCHW input of " + source->describe() + ", which is removed" +
                       (source == cast ? " with " + transpose->describe() : std::string()));
            rewritten = true;
            break;
        }
        if (!rewritten)
            ctx.log.verbose(std::string(name()) + ": " + conv->describe() + " keeps " + transpose->describe() + ": " +
                            reason);
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
