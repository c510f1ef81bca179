#include "passes/gelu_fusion.h"

#include <cmath>

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// The x of erf's argument x / sqrt(2) (or x * (1 / sqrt(2))), with the node computing it.
Value* erfArgument(const Value* arg, Node** scaleNode) {
    if (Node* div = producerIs(arg, "Div")) {
        if (scalarConstantIs(div->input(1), std::sqrt(2.0))) {
            *scaleNode = div;
            return div->input(0);
        }
    }
    if (Node* mul = producerIs(arg, "Mul")) {
        for (size_t i = 0; i < 2; ++i)
            if (scalarConstantIs(mul->input(1 - i), 1.0 / std::sqrt(2.0))) {
                *scaleNode = mul;
                return mul->input(i);
            }
    }
    return nullptr;
}

/// The other input of `node` when one input is a scalar constant equal to `expected`, else nullptr.
Value* scaledBy(const Node* node, double expected) {
    if (!node || node->inputs.size() != 2) return nullptr;
    for (size_t i = 0; i < 2; ++i)
        if (scalarConstantIs(node->input(1 - i), expected)) return node->input(i);
    return nullptr;
}

/// Whether `v` is x cubed: Pow(x, 3), x * (x * x) or (x * x) * x; the nodes join `chain`.
bool isCube(const Uses& uses, const Value* v, const Value* x, std::vector<const Node*>& chain) {
    if (Node* pow = producerIs(v, "Pow")) {
        if (pow->input(0) != x || !scalarConstantIs(pow->input(1), 3.0)) return false;
        chain.push_back(pow);
        return true;
    }
    Node* outer = producerIs(v, "Mul");
    if (!outer) return false;
    const Value* square = outer->input(0) == x ? outer->input(1) : outer->input(1) == x ? outer->input(0) : nullptr;
    Node* inner = square ? producerIs(square, "Mul") : nullptr;
    if (!inner || inner->input(0) != x || inner->input(1) != x || !uses.onlyFeeds(square)) return false;
    chain.push_back(outer);
    chain.push_back(inner);
    return true;
}

/// The x of tanh's argument sqrt(2 / pi) * (x + 0.044715 * x^3), with the nodes computing it in `chain`.
Value* tanhArgument(const Uses& uses, const Value* arg, std::vector<const Node*>& chain) {
    Node* scale = producerIs(arg, "Mul");
    constexpr double kPi = 3.14159265358979323846;
    Value* inner = scaledBy(scale, std::sqrt(2.0 / kPi));
    Node* sum = inner ? producerIs(inner, "Add") : nullptr;
    if (!sum || !uses.onlyFeeds(inner)) return nullptr;
    for (size_t i = 0; i < 2; ++i) {
        Value* x = sum->input(i);
        Value* term = sum->input(1 - i);
        Node* cubic = producerIs(term, "Mul");
        Value* cube = scaledBy(cubic, 0.044715);
        std::vector<const Node*> nodes = {scale, sum, cubic};
        if (!cube || !uses.onlyFeeds(term) || !uses.onlyFeeds(cube) || !isCube(uses, cube, x, nodes)) continue;
        chain.insert(chain.end(), nodes.begin(), nodes.end());
        return x;
    }
    return nullptr;
}

/// From 1 + f(x) (`cdf2`, f being erf or tanh) to the GELU's result: (x * (1 + f)) * 0.5 or
/// (x * 0.5) * (1 + f); the nodes join `chain`. Nullptr when neither association follows.
Value* geluResult(const Uses& uses, const Value* cdf2, const Value* x, std::vector<const Node*>& chain) {
    Node* mul1 = uses.soleReaderIs(cdf2, "Mul");
    if (!mul1) return nullptr;
    Value* other = otherInput(*mul1, cdf2);
    if (other == x) {  // (x * (1 + f)) * 0.5
        Node* half = uses.soleReaderIs(mul1->output(0), "Mul");
        if (!half || !scalarConstantIs(otherInput(*half, mul1->output(0)), 0.5)) return nullptr;
        chain.push_back(mul1);
        chain.push_back(half);
        return half->output(0);
    }
    if (Node* halfX = producerIs(other, "Mul")) {  // (x * 0.5) * (1 + f)
        Value* xHalf = otherInput(*halfX, x);
        if (!xHalf || !scalarConstantIs(xHalf, 0.5) || !uses.onlyFeeds(other)) return nullptr;
        chain.push_back(mul1);
        chain.push_back(halfX);
        return mul1->output(0);
    }
    return nullptr;
}

}  // namespace

Expected<bool> GeluFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> curves;  // the Erf and Tanh nodes a GELU may be built around
    for (const auto& n : graph.nodes())
        if (n->domain.empty() && (n->opType == "Erf" || n->opType == "Tanh")) curves.push_back(n.get());
    for (Node* curve : curves) {
        const bool exact = curve->opType == "Erf";
        std::vector<const Node*> chain;
        Value* x = nullptr;
        if (exact) {
            Node* scale = nullptr;
            x = erfArgument(curve->input(0), &scale);
            if (x) chain.push_back(scale);
        } else {
            x = tanhArgument(uses, curve->input(0), chain);
        }
        if (!x || !uses.onlyFeeds(curve->input(0))) continue;
        chain.push_back(curve);
        Node* plusOne = uses.soleReaderIs(curve->output(0), "Add");
        if (!plusOne || !scalarConstantIs(otherInput(*plusOne, curve->output(0)), 1.0)) continue;
        chain.push_back(plusOne);
        Value* result = geluResult(uses, plusOne->output(0), x, chain);
        if (!result) continue;
        Node* gelu = addReplacementNode(graph, "Gelu", "", {x}, {result}, chain);
        if (!exact) gelu->attrs.set("approximate", std::string("tanh"));
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + std::to_string(chain.size()) + " layers from " + curve->describe() + " into " +
                   gelu->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
