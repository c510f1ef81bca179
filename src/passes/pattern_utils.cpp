#include "passes/pattern_utils.h"

#include <cmath>
#include <cstring>

#include "ir/onnx_types.h"

namespace kiln {

Uses::Uses(const Graph& graph) {
    for (const auto& node : graph.nodes())
        for (const Value* in : node->inputs)
            if (in) mReaders[in].push_back(node.get());
    mOutputs.insert(graph.outputs().begin(), graph.outputs().end());
}

const std::vector<Node*>& Uses::readers(const Value* v) const {
    static const std::vector<Node*> kNone;
    auto it = mReaders.find(v);
    return it == mReaders.end() ? kNone : it->second;
}

Node* Uses::soleReaderIs(const Value* v, const char* opType) const {
    if (!onlyFeeds(v)) return nullptr;
    Node* r = readers(v)[0];
    return r->domain.empty() && r->opType == opType ? r : nullptr;
}

Node* addCastNode(Graph& graph, Value* from, DataType to, const std::string& name, const std::string& why) {
    Node* cast = graph.addNode("Cast", name, {from}, {graph.uniqueValueName(name)}, 1);
    cast->attrs.set("to", dataTypeToOnnx(to));
    cast->sourceNodes = {why};
    Value* out = cast->outputs[0];
    out->dtype = to;
    out->shape = from->shape;
    out->typeKnown = true;
    return cast;
}

Node* addReplacementNode(Graph& graph, const std::string& opType, const std::string& domain,
                         std::vector<Value*> inputs, std::vector<Value*> outputs,
                         const std::vector<const Node*>& replaced) {
    std::string name = replaced.empty() ? opType : replaced.front()->name + "_" + opType;
    Node* node = graph.addNode(opType, name, std::move(inputs), {}, 0);
    node->domain = domain;
    for (const Node* r : replaced) node->sourceNodes.insert(node->sourceNodes.end(), r->sourceNodes.begin(), r->sourceNodes.end());
    node->outputs = std::move(outputs);
    for (size_t i = 0; i < node->outputs.size(); ++i) {
        if (!node->outputs[i]) continue;
        node->outputs[i]->producer = node;
        node->outputs[i]->producerOutput = static_cast<int32_t>(i);
    }
    return node;
}

Status finishRewrite(Graph& graph, const std::unordered_set<const Node*>& removed) {
    graph.removeNodes([&](const Node& n) { return removed.count(&n) != 0; });
    graph.removeUnusedValues();
    if (!graph.topologicalSort()) return internalError("a rewrite left the graph without a topological order");
    return Status::ok();
}

Node* producerIs(const Value* v, const char* opType) {
    if (!v || !v->producer || !v->producer->domain.empty() || v->producer->opType != opType) return nullptr;
    return v->producer;
}

bool sameTypeAndShape(const Value* a, const Value* b) {
    if (!a->typeKnown || !b->typeKnown || a->dtype != b->dtype || a->shape.size() != b->shape.size()) return false;
    for (size_t i = 0; i < a->shape.size(); ++i)
        if (!(a->shape[i] == b->shape[i])) return false;
    return true;
}

Value* takeResidualAdd(const Uses& uses, const std::unordered_set<const Node*>& removed, Value** result,
                       std::vector<const Node*>& chain) {
    Node* add = uses.soleReaderIs(*result, "Add");
    if (!add || removed.count(add)) return nullptr;
    Value* other = otherInput(*add, *result);
    if (!other || other == *result || !sameTypeAndShape(other, *result)) return nullptr;
    chain.push_back(add);
    *result = add->output(0);
    return other;
}

bool isMatMulLike(const Node& node) {
    return (node.domain.empty() && node.opType == "MatMul") || (node.domain == "kiln" && node.opType == "FusedMatMul");
}

std::vector<Node*> nodesOfType(const Graph& graph, const char* opType) {
    std::vector<Node*> found;
    for (const auto& n : graph.nodes())
        if (n->domain.empty() && n->opType == opType) found.push_back(n.get());
    return found;
}

std::optional<std::vector<int64_t>> staticExtents(const Value* v) {
    if (!v || !v->typeKnown || !isFullyKnown(v->shape)) return std::nullopt;
    return toConcrete(v->shape);
}

std::optional<double> scalarConstant(const Value* v) {
    if (!v || !v->isConstant() || v->constant->elementCount() != 1) return std::nullopt;
    return v->constant->elementAsDouble(0);
}

bool scalarConstantIs(const Value* v, double expected) {
    const std::optional<double> c = scalarConstant(v);
    if (!c) return false;
    const DataType type = v->constant->dtype();
    const double tolerance = type == DataType::kHALF ? std::ldexp(1.0, -11)
                             : type == DataType::kBF16 ? std::ldexp(1.0, -8)
                                                       : 1e-4;
    return near(*c, expected, tolerance);
}

Value* otherInput(const Node& node, const Value* one) {
    if (node.inputs.size() != 2) return nullptr;
    if (node.inputs[0] == one) return node.inputs[1];
    if (node.inputs[1] == one) return node.inputs[0];
    return nullptr;
}

std::optional<std::vector<int64_t>> intsConstant(const Value* v) {
    if (!v || !v->isConstant() || !isIntegerType(v->constant->dtype())) return std::nullopt;
    return v->constant->toInt64Vector();
}


Tensor transposedMatrix(const Tensor& w) {
    const int64_t rows = w.shape()[0];
    const int64_t columns = rows == 0 ? 0 : w.elementCount() / rows;
    Tensor t = Tensor::allocate(w.dtype(), {columns, rows});
    const size_t bytes = dataTypeSize(w.dtype());
    const auto* src = static_cast<const unsigned char*>(w.data());
    auto* dst = static_cast<unsigned char*>(t.data());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < columns; ++c)
            std::memcpy(dst + static_cast<size_t>(c * rows + r) * bytes, src + static_cast<size_t>(r * columns + c) * bytes,
                        bytes);
    return t;
}

}  // namespace kiln
