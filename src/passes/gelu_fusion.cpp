#include "passes/gelu_fusion.h"

#include <cmath>

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// The x of erf's argument x / sqrt(2) (or x * (1 / sqrt(2))), with the node computing it.
Value* erfArgument(const Value* arg, Node** scaleNode) {
    if (Node* div = producerIs(arg, "Div")) {
        if (scalarConstantIs(div->input(1), std::sqrt(2.0))) { *scaleNode = div; return div->input(0); }
    }
    if (Node* mul = producerIs(arg, "Mul")) {
        for (size_t i = 0; i < 2; ++i) {
            if (scalarConstantIs(mul->input(1 - i), 1.0 / std::sqrt(2.0))) { *scaleNode = mul; return mul->input(i); }
        }
    }
    return nullptr;
}


}  // namespace

Expected<bool> GeluFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> erfs;
    for (const auto& n : graph.nodes())
        if (n->domain.empty() && n->opType == "Erf") erfs.push_back(n.get());
    for (Node* erf : erfs) {
        Node* scale = nullptr;
        Value* x = erfArgument(erf->input(0), &scale);
        if (!x || !uses.onlyFeeds(erf->input(0)) || removed.count(scale)) continue;
        Node* plusOne = uses.soleReaderIs(erf->output(0), "Add");
        if (!plusOne || !scalarConstantIs(otherInput(*plusOne, erf->output(0)), 1.0)) continue;
        Node* mul1 = uses.soleReaderIs(plusOne->output(0), "Mul");
        if (!mul1) continue;
        Value* other = otherInput(*mul1, plusOne->output(0));
        std::vector<const Node*> chain = {scale, erf, plusOne, mul1};
        Value* result = nullptr;
        if (other == x) {  // (x * (1 + erf)) * 0.5
            Node* half = uses.soleReaderIs(mul1->output(0), "Mul");
            if (!half || !scalarConstantIs(otherInput(*half, mul1->output(0)), 0.5)) continue;
            chain.push_back(half);
            result = half->output(0);
        } else if (Node* halfX = producerIs(other, "Mul")) {  // (x * 0.5) * (1 + erf)
            Value* xHalf = otherInput(*halfX, x);
            if (!xHalf || !scalarConstantIs(xHalf, 0.5) || !uses.onlyFeeds(other)) continue;
            chain.push_back(halfX);
            result = mul1->output(0);
        } else {
            continue;
        }
        Node* gelu = addReplacementNode(graph, "Gelu", "", {x}, {result}, chain);
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + std::to_string(chain.size()) + " layers from " + erf->describe() + " into " + gelu->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
