#include "passes/gemm_to_matmul.h"

#include <unordered_map>

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// The element types of the products the fusions and GEMM tactics serve.
bool isProductType(DataType t) {
    return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16;
}

/// Whether `gemm` computes exactly A B' + C, as a MatMul and an Add compute it.
bool rewritable(const Node& gemm) {
    if (!gemm.domain.empty() || gemm.opType != "Gemm") return false;
    const Value* a = gemm.input(0);
    const Value* b = gemm.input(1);
    if (!a || !b || !gemm.output(0) || !a->typeKnown || !isProductType(a->dtype) || a->shape.size() != 2) return false;
    // Weights: a constant B, which for transB is transposed here once (a MatMul reads no transposed operand).
    if (!b->isConstant() || b->dtype != a->dtype || b->constant->rank() != 2) return false;
    // alpha and beta other than 1 would be one more multiply (a scaled copy of B or C would round differently).
    if (gemm.attrs.getInt("transA", 0) != 0 || gemm.attrs.getFloat("alpha", 1.f) != 1.f) return false;
    if (!gemm.hasInput(2)) return true;
    const Value* c = gemm.input(2);
    return gemm.attrs.getFloat("beta", 1.f) == 1.f && c->typeKnown && c->dtype == a->dtype;
}

bool transposesB(const Node& gemm) { return gemm.attrs.getInt("transB", 0) != 0; }

/// Whether B^T may replace B: every reader of B is a Gemm this pass rewrites that reads it transposed, so
/// B itself goes and the engine holds one copy of the weights (a language model's output projection
/// shares its weights with the embedding Gather: there the Gemm stays and reads B transposed itself).
bool onlyTransposingGemmsRead(const Uses& uses, const Value* b) {
    if (uses.isOutput(b)) return false;
    for (const Node* reader : uses.readers(b))
        if (!rewritable(*reader) || !transposesB(*reader) || reader->input(0) == b || reader->input(2) == b)
            return false;
    return true;
}

}  // namespace

Expected<bool> GemmToMatMul::run(Graph& graph, PassContext& ctx) {
    const Uses uses(graph);
    std::unordered_set<const Node*> removed;
    // One transposed copy of a B that several Gemms share.
    std::unordered_map<const Value*, Value*> transposed;
    for (Node* gemm : nodesOfType(graph, "Gemm")) {
        if (!rewritable(*gemm)) continue;
        Value* b = gemm->input(1);
        if (transposesB(*gemm)) {
            if (!onlyTransposingGemmsRead(uses, b)) continue;
            Value*& bt = transposed[b];
            if (!bt) bt = graph.addConstant(graph.uniqueValueName(b->name + "_transposed"), transposedMatrix(*b->constant));
            b = bt;
        }
        Value* y = gemm->output(0);
        if (!gemm->hasInput(2)) {
            addReplacementNode(graph, "MatMul", "", {gemm->input(0), b}, {y}, {gemm});
        } else {
            Node* product = graph.addNode("MatMul", gemm->name + "_product", {gemm->input(0), b}, {}, 1);
            product->sourceNodes = gemm->sourceNodes;
            Value* ab = product->outputs[0];
            ab->dtype = y->dtype;
            ab->shape = y->shape;
            ab->typeKnown = y->typeKnown;
            addReplacementNode(graph, "Add", "", {ab, gemm->input(2)}, {y}, {gemm});
        }
        removed.insert(gemm);
        ctx.record("rewrote " + gemm->describe() + " as a MatMul" + (gemm->hasInput(2) ? " and an Add" : ""));
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
