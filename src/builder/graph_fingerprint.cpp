#include "builder/graph_fingerprint.h"

#include <cstdint>
#include <cstdio>
#include <set>
#include <sstream>
#include <unordered_map>
#include <variant>

#include "backends/code_generation.h"
#include "backends/precision_attributes.h"

namespace kiln {

namespace {

/// Written by the builder after the decisions this fingerprint keys, so they must not change it.
const std::set<std::string> kBuilderOutputAttributes = {kTacticAttribute, kTacticSearchAttribute,
                                                        kGeneratedCodeAttribute};

uint64_t fnv1a64(const std::string& text) {
    uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return hash;
}

/// The canonical text: names never appear (an exporter may name things differently), values are
/// numbered as they appear; constants are written as their type and shape only.
class StructureWriter {
public:
    explicit StructureWriter(std::ostringstream& out) : mOut(out) {}

    /// `infos` gives the top-level graph's concrete shapes; a subgraph (nullptr) writes its declared ones.
    void graph(const Graph& g, const std::vector<ValueInfo>* infos) {
        mOut << "graph(";
        for (const Value* in : g.inputs()) {
            define(in);
            type(*in, infos);
        }
        mOut << ")\n";
        for (const auto& node : g.nodes()) {
            mOut << node->domain << "::" << node->opType << " (";
            for (const Value* in : node->inputs) reference(in, infos);
            mOut << ") ->";
            for (const Value* out : node->outputs) {
                if (!out) {
                    mOut << " -";
                    continue;
                }
                define(out);
                type(*out, infos);
            }
            for (const auto& [name, value] : node->attrs.all()) {
                if (kBuilderOutputAttributes.count(name)) continue;
                mOut << " " << name << "=";
                attribute(value);
            }
            mOut << "\n";
        }
        mOut << "outputs";
        for (const Value* out : g.outputs()) reference(out, infos);
        mOut << "\nend\n";
    }

private:
    void define(const Value* v) {
        const size_t number = mNumbers.size();
        mNumbers.emplace(v, number);
        mOut << " %" << number;
    }

    void type(const Value& v, const std::vector<ValueInfo>* infos) {
        if (infos && static_cast<size_t>(v.id) < infos->size() && (*infos)[static_cast<size_t>(v.id)].known) {
            const ValueInfo& info = (*infos)[static_cast<size_t>(v.id)];
            mOut << ":" << dataTypeName(info.dtype) << symShapeToString(info.shape);
        } else if (v.typeKnown) {
            mOut << ":" << dataTypeName(v.dtype) << symShapeToString(v.shape);
        } else {
            mOut << ":?";
        }
    }

    void reference(const Value* v, const std::vector<ValueInfo>* infos) {
        if (!v) {
            mOut << " -";
            return;
        }
        if (v->isConstant()) {
            mOut << " const:" << dataTypeName(v->constant->dtype()) << shapeToString(v->constant->shape(), true);
            return;
        }
        auto it = mNumbers.find(v);
        // A value from outside the graph being written: an enclosing graph's, read by a subgraph.
        if (it == mNumbers.end()) {
            mOut << " outer";
            type(*v, infos);
            return;
        }
        mOut << " %" << it->second;
    }

    void attribute(const AttributeValue& value) {
        if (const auto* body = std::get_if<std::shared_ptr<Graph>>(&value)) {
            if (*body) graph(**body, nullptr);
            return;
        }
        if (const auto* bodies = std::get_if<std::vector<std::shared_ptr<Graph>>>(&value)) {
            for (const auto& b : *bodies)
                if (b) graph(*b, nullptr);
            return;
        }
        mOut << attributeToString(value);  // a tensor attribute is written as its type and shape
    }

    std::ostringstream& mOut;
    std::unordered_map<const Value*, size_t> mNumbers;
};

}  // namespace

std::string structureFingerprint(const Graph& graph, const std::vector<ValueInfo>& infos) {
    std::ostringstream text;
    StructureWriter(text).graph(graph, &infos);
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a64(text.str())));
    return std::to_string(graph.nodes().size()) + " layers " + hex;
}

}  // namespace kiln
