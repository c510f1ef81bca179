#include "ir/graph.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace kiln {

std::string Node::describe() const {
    std::ostringstream oss;
    oss << "node " << id << " '" << name << "' (" << (domain.empty() ? "" : domain + "::") << opType << ")";
    return oss.str();
}

std::string Graph::uniqueValueName(const std::string& base) {
    std::string stem = base.empty() ? "tensor" : base;
    if (!findValue(stem)) return stem;
    while (true) {
        std::string candidate = stem + "_" + std::to_string(++mNameCounter);
        if (!findValue(candidate)) return candidate;
    }
}

Value* Graph::addValue(const std::string& name, DataType dtype) {
    auto v = std::make_unique<Value>();
    v->id = static_cast<int32_t>(mValues.size());
    v->name = name.empty() ? uniqueValueName("tensor") : name;
    v->dtype = dtype;
    mValues.push_back(std::move(v));
    return mValues.back().get();
}

Value* Graph::addConstant(const std::string& name, Tensor tensor) {
    Value* v = addValue(name, tensor.dtype());
    v->shape = fromConcrete(tensor.shape());
    v->typeKnown = true;
    v->constant = std::move(tensor);
    return v;
}

Value* Graph::addInput(const std::string& name, DataType dtype, SymShape shape) {
    Value* v = addValue(name, dtype);
    v->shape = std::move(shape);
    v->typeKnown = true;
    mInputs.push_back(v);
    return v;
}

Node* Graph::addNode(const std::string& opType, const std::string& name, std::vector<Value*> inputs,
                     const std::vector<std::string>& outputNames, size_t numOutputs) {
    auto n = std::make_unique<Node>();
    n->id = mNextNodeId++;
    n->opType = opType;
    n->name = name.empty() ? opType + "_" + std::to_string(n->id) : name;
    n->inputs = std::move(inputs);
    size_t count = std::max(numOutputs, outputNames.size());
    for (size_t i = 0; i < count; ++i) {
        std::string outName = i < outputNames.size() ? outputNames[i] : "";
        if (outName.empty()) outName = uniqueValueName(n->name + "_out" + std::to_string(i));
        Value* v = addValue(outName);
        v->producer = n.get();
        v->producerOutput = static_cast<int32_t>(i);
        n->outputs.push_back(v);
    }
    mNodes.push_back(std::move(n));
    return mNodes.back().get();
}

Value* Graph::findValue(const std::string& name) const {
    for (const auto& v : mValues)
        if (v && v->name == name) return v.get();
    return nullptr;
}

Node* Graph::findNode(const std::string& name) const {
    for (const auto& n : mNodes)
        if (n->name == name) return n.get();
    return nullptr;
}

std::vector<Node*> Graph::consumers(const Value* value) const {
    std::vector<Node*> out;
    for (const auto& n : mNodes) {
        for (const Value* in : n->inputs) {
            if (in == value) {
                out.push_back(n.get());
                break;
            }
        }
    }
    return out;
}

bool Graph::isGraphOutput(const Value* value) const {
    for (const Value* v : mOutputs)
        if (v == value) return true;
    return false;
}

bool Graph::isGraphInput(const Value* value) const {
    for (const Value* v : mInputs)
        if (v == value) return true;
    return false;
}

void Graph::removeNodes(const std::function<bool(const Node&)>& pred) {
    std::vector<std::unique_ptr<Node>> kept;
    kept.reserve(mNodes.size());
    for (auto& n : mNodes) {
        if (pred(*n)) {
            for (Value* out : n->outputs)
                if (out && out->producer == n.get()) out->producer = nullptr;
        } else {
            kept.push_back(std::move(n));
        }
    }
    mNodes = std::move(kept);
}

void Graph::replaceAllUses(Value* from, Value* to) {
    for (auto& n : mNodes)
        for (Value*& in : n->inputs)
            if (in == from) in = to;
    for (Value*& out : mOutputs)
        if (out == from) out = to;
}

void Graph::removeUnusedValues() {
    std::unordered_set<const Value*> used(mInputs.begin(), mInputs.end());
    used.insert(mOutputs.begin(), mOutputs.end());
    for (const auto& n : mNodes) {
        for (const Value* v : n->inputs) used.insert(v);
        for (const Value* v : n->outputs) used.insert(v);
    }
    for (auto& v : mValues)
        if (v && !used.count(v.get())) v.reset();
}

bool Graph::topologicalSort() {
    std::unordered_map<const Node*, size_t> pending;
    std::unordered_map<const Value*, std::vector<Node*>> readers;
    std::vector<Node*> ready;
    for (const auto& n : mNodes) {
        size_t count = 0;
        std::unordered_set<const Value*> seen;
        for (const Value* in : n->inputs) {
            if (!in || !in->producer || !seen.insert(in).second) continue;
            ++count;
            readers[in].push_back(n.get());
        }
        pending[n.get()] = count;
        if (count == 0) ready.push_back(n.get());
    }
    std::vector<Node*> order;
    order.reserve(mNodes.size());
    for (size_t i = 0; i < ready.size(); ++i) {
        Node* n = ready[i];
        order.push_back(n);
        for (const Value* out : n->outputs) {
            if (!out) continue;
            auto it = readers.find(out);
            if (it == readers.end()) continue;
            for (Node* r : it->second)
                if (--pending[r] == 0) ready.push_back(r);
        }
    }
    if (order.size() != mNodes.size()) return false;
    std::unordered_map<const Node*, std::unique_ptr<Node>> owned;
    for (auto& n : mNodes) owned[n.get()] = std::move(n);
    mNodes.clear();
    for (Node* n : order) mNodes.push_back(std::move(owned[n]));
    return true;
}

std::unique_ptr<Graph> Graph::clone() const {
    auto g = std::make_unique<Graph>();
    g->name = name;
    g->mNextNodeId = mNextNodeId;
    g->mNameCounter = mNameCounter;
    g->mValues.resize(mValues.size());
    for (size_t i = 0; i < mValues.size(); ++i) {
        if (!mValues[i]) continue;
        auto v = std::make_unique<Value>(*mValues[i]);
        v->producer = nullptr;
        g->mValues[i] = std::move(v);
    }
    auto map = [&](const Value* v) -> Value* { return v ? g->mValues[static_cast<size_t>(v->id)].get() : nullptr; };
    for (const auto& n : mNodes) {
        auto c = std::make_unique<Node>();
        c->id = n->id;
        c->name = n->name;
        c->opType = n->opType;
        c->domain = n->domain;
        c->attrs = n->attrs;
        c->sourceNodes = n->sourceNodes;
        for (const Value* in : n->inputs) c->inputs.push_back(map(in));
        for (const Value* out : n->outputs) {
            Value* o = map(out);
            if (o) o->producer = c.get();
            c->outputs.push_back(o);
        }
        g->mNodes.push_back(std::move(c));
    }
    for (const Value* v : mInputs) g->mInputs.push_back(map(v));
    for (const Value* v : mOutputs) g->mOutputs.push_back(map(v));
    return g;
}

}  // namespace kiln
