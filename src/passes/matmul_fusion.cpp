#include "passes/matmul_fusion.h"

#include "passes/activation_matching.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// An FP32 product whose epilogue can still grow: a MatMul, or a FusedMatMul with neither an activation
/// (a residual would have to precede it) nor a residual yet.
bool extendable(const Node& n) {
    const bool matmul = n.domain.empty() && n.opType == "MatMul";
    const bool fused = n.domain == "kiln" && n.opType == "FusedMatMul" && !n.attrs.has("activation") && !n.hasInput(3);
    const Value* y = n.output(0);
    return (matmul || fused) && y && y->dtype == DataType::kFLOAT && y->shape.size() >= 2;
}

/// A constant of N elements along its last axis alone ([N], [1, N], ...) and of no higher rank than the
/// product's: added to the product, it is a bias row that leaves the result's shape as it is.
bool isBiasRow(const Value* v, int64_t n, size_t productRank) {
    if (!v->isConstant() || v->constant->rank() < 1 || static_cast<size_t>(v->constant->rank()) > productRank)
        return false;
    const Tensor& t = *v->constant;
    return t.shape().back() == n && t.elementCount() == n;
}

}  // namespace

Expected<bool> MatMulFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Node*> products;
    for (const auto& n : graph.nodes())
        if (extendable(*n)) products.push_back(n.get());
    for (Node* product : products) {
        const bool wasFused = product->opType == "FusedMatMul";
        Value* result = product->output(0);
        std::vector<const Node*> chain = {product};
        Value* bias = wasFused ? product->input(2) : nullptr;
        if (Node* add = uses.soleReaderIs(result, "Add"); !wasFused && add && !removed.count(add)) {
            Value* other = otherInput(*add, result);
            const Dim& n = result->shape.back();
            if (other && n.isKnown() && isBiasRow(other, n.value, result->shape.size()) && other->dtype == result->dtype) {
                // A row [1, ..., 1, N] (a Gemm's C, an exporter's 2-D bias) is the bias [N] under another shape.
                bias = other->constant->rank() == 1
                           ? other
                           : graph.addConstant(graph.uniqueValueName(other->name + "_row"),
                                               other->constant->reshaped({n.value}));
                chain.push_back(add);
                result = add->output(0);
            }
        }
        // The residual: an Add of a tensor of exactly the result's shape (a broadcasting Add stays), which
        // the GEMM reads as its C operand. A sibling product may already have absorbed the shared Add.
        Value* residual = takeResidualAdd(uses, removed, &result, chain);
        std::optional<FusableActivation> activation = absorbActivation(uses, &result, chain);
        if (chain.size() == 1) continue;
        std::vector<Value*> inputs = {product->input(0), product->input(1)};
        if (bias || residual) inputs.push_back(bias);
        if (residual) inputs.push_back(residual);
        Node* fused = addReplacementNode(graph, "FusedMatMul", "kiln", inputs, {result}, chain);
        if (wasFused) fused->attrs = product->attrs;
        if (activation) setActivation(*fused, *activation);
        for (const Node* n : chain) removed.insert(n);
        ctx.record("fused " + describeChain(chain) + " into " + fused->describe());
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
