#include "passes/horizontal_fusion.h"

#include <cstring>
#include <map>

#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// What must be equal for siblings to share one GEMM: op, epilogue, bias presence, K.
std::string siblingKey(const Node& n) {
    const Tensor& w = *n.input(1)->constant;
    std::string key = n.opType + "|" + n.attrs.getString("activation", "") + "|" + std::to_string(n.hasInput(2)) + "|" +
                      std::to_string(w.shape()[0]);
    for (float p : n.attrs.getFloats("activation_params").value_or(std::vector<float>{})) {
        key += '|';
        key += std::to_string(p);
    }
    return key;
}

bool eligible(const Node& n, const Value* x) {
    if (!isMatMulLike(n) || n.input(0) != x || !n.input(1) || !n.input(1)->isConstant()) return false;
    // A residual (input 3) is per output element: the wide GEMM would need the siblings' residuals
    // interleaved column-wise, a copy that costs what the fusion saves.
    if (n.hasInput(3)) return false;
    const Tensor& w = *n.input(1)->constant;
    if (w.rank() != 2 || w.dtype() != DataType::kFLOAT) return false;
    return !n.hasInput(2) || (n.input(2)->isConstant() && n.input(2)->constant->rank() == 1);
}

/// Concatenates row-major [rows, cols_i] float tensors along columns (or 1-D vectors end to end).
Tensor concatColumns(const std::vector<const Tensor*>& parts) {
    int64_t rows = parts[0]->rank() == 2 ? parts[0]->shape()[0] : 1;
    int64_t total = 0;
    for (const Tensor* p : parts) total += p->shape().back();
    Tensor out = Tensor::allocate(DataType::kFLOAT, parts[0]->rank() == 2 ? Shape{rows, total} : Shape{total});
    int64_t offset = 0;
    for (const Tensor* p : parts) {
        int64_t cols = p->shape().back();
        for (int64_t r = 0; r < rows; ++r)
            std::memcpy(out.data<float>() + r * total + offset, p->data<float>() + r * cols, static_cast<size_t>(cols) * sizeof(float));
        offset += cols;
    }
    return out;
}

}  // namespace

Expected<bool> HorizontalFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<Value*> sources;
    for (const auto& v : graph.values())
        if (v && uses.count(v.get()) >= 2) sources.push_back(v.get());
    for (Value* x : sources) {
        std::map<std::string, std::vector<Node*>> groups;
        for (Node* r : uses.readers(x))
            if (!removed.count(r) && eligible(*r, x)) groups[siblingKey(*r)].push_back(r);
        for (auto& [key, siblings] : groups) {
            if (siblings.size() < 2) continue;
            std::vector<const Tensor*> weights, biases;
            std::vector<int64_t> sizes;
            for (Node* s : siblings) {
                weights.push_back(&*s->input(1)->constant);
                if (s->hasInput(2)) biases.push_back(&*s->input(2)->constant);
                sizes.push_back(s->input(1)->constant->shape()[1]);
            }
            Node* first = siblings.front();
            Value* w = graph.addConstant(graph.uniqueValueName(first->name + "_hweights"), concatColumns(weights));
            std::vector<Value*> inputs = {x, w};
            if (!biases.empty())
                inputs.push_back(graph.addConstant(graph.uniqueValueName(first->name + "_hbias"), concatColumns(biases)));
            Node* gemm = graph.addNode(first->opType, first->name + "_horizontal", inputs, {}, 1);
            gemm->domain = first->domain;
            gemm->attrs = first->attrs;
            Value* wide = gemm->outputs[0];
            wide->dtype = DataType::kFLOAT;
            wide->shape = first->output(0)->shape;
            int64_t total = 0;
            for (int64_t n : sizes) total += n;
            wide->shape.back() = Dim(total);
            wide->typeKnown = true;
            Value* splitSizes = graph.addConstant(graph.uniqueValueName(first->name + "_hsplit"),
                                                  Tensor::fromInt64(sizes, {static_cast<int64_t>(sizes.size())}));
            std::vector<Value*> outputs;
            std::vector<const Node*> replaced;
            for (Node* s : siblings) {
                outputs.push_back(s->output(0));
                replaced.push_back(s);
                gemm->sourceNodes.insert(gemm->sourceNodes.end(), s->sourceNodes.begin(), s->sourceNodes.end());
                removed.insert(s);
            }
            Node* split = addReplacementNode(graph, "Split", "", {wide, splitSizes}, outputs, replaced);
            split->attrs.set("axis", int64_t{-1});
            ctx.record("fused " + std::to_string(siblings.size()) + " sibling " + first->opType + " layers reading '" + x->name +
                       "' into " + gemm->describe() + " + " + split->describe());
        }
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
