#include "passes/channels_first_conv_input.h"

#include <unordered_set>

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
    return conv;
}

}  // namespace

Expected<bool> ChannelsFirstConvInput::run(Graph& graph, PassContext& ctx) {
    const Uses uses(graph);
    std::unordered_set<const Node*> removed;
    for (Node* transpose : nodesOfType(graph, "Transpose")) {
        Node* conv = convReadingAsX(*transpose, uses);
        if (!conv) continue;
        // Asked with a trial copy: the graph is changed only where the backend runs the new form.
        Node trial = *conv;
        trial.inputs[0] = transpose->inputs[0];
        trial.attrs.set(kInputChannelsFirstAttribute, int64_t{1});
        std::string reason;
        if (!mSupports(trial, &reason)) {
            ctx.log.verbose(std::string(name()) + ": " + conv->describe() + " keeps " + transpose->describe() + ": " +
                            reason);
            continue;
        }
        conv->inputs[0] = transpose->inputs[0];
        conv->attrs.set(kInputChannelsFirstAttribute, int64_t{1});
        removed.insert(transpose);
        ctx.record(conv->describe() + " reads the NCHW input of " + transpose->describe() + ", which is removed");
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
