#pragma once
// Helpers shared by the engine-file tests: sample plans and a deep structural comparison of graphs
// (independent of the serializer, so that a round trip that loses something fails).

#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>

#include "engine/plan.h"
#include "engine/plan_format.h"
#include "test_support.h"

namespace kiln::test {

inline std::string describeValueRef(const Value* v) {
    return v ? "'" + v->name + "'" : "<none>";
}

inline std::string diffTensors(const Tensor& a, const Tensor& b) {
    if (a.dtype() != b.dtype())
        return std::string("dtype ") + dataTypeName(a.dtype()) + " vs " + dataTypeName(b.dtype());
    if (a.shape() != b.shape())
        return "shape " + shapeToString(a.shape(), true) + " vs " + shapeToString(b.shape(), true);
    if (a.byteSize() && std::memcmp(a.data(), b.data(), a.byteSize()) != 0) return "bytes differ";
    return "";
}

inline std::string diffGraphs(const Graph& a, const Graph& b);

inline std::string diffAttributes(const AttributeValue& a, const AttributeValue& b) {
    if (a.index() != b.index()) return "kind " + std::to_string(a.index()) + " vs " + std::to_string(b.index());
    return std::visit(
        [&](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            const T& y = std::get<T>(b);
            if constexpr (std::is_same_v<T, float>) {
                return std::memcmp(&x, &y, sizeof(float)) == 0 ? "" : "float bits differ";
            } else if constexpr (std::is_same_v<T, std::vector<float>>) {
                if (x.size() != y.size()) return "float count differs";
                return x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0
                           ? ""
                           : "float bits differ";
            } else if constexpr (std::is_same_v<T, Tensor>) {
                return diffTensors(x, y);
            } else if constexpr (std::is_same_v<T, std::shared_ptr<Graph>>) {
                if (!x || !y) return "null graph";
                return diffGraphs(*x, *y);
            } else if constexpr (std::is_same_v<T, std::vector<std::shared_ptr<Graph>>>) {
                if (x.size() != y.size()) return "graph count differs";
                for (size_t i = 0; i < x.size(); ++i) {
                    std::string d = diffGraphs(*x[i], *y[i]);
                    if (!d.empty()) return "graph " + std::to_string(i) + ": " + d;
                }
                return "";
            } else {
                return x == y ? "" : "values differ";
            }
        },
        a);
}

inline std::string diffValues(const Value& a, const Value& b) {
    if (a.dtype != b.dtype) return "dtype differs";
    if (a.typeKnown != b.typeKnown) return "typeKnown differs";
    if (a.shape.size() != b.shape.size()) return "rank differs";
    for (size_t i = 0; i < a.shape.size(); ++i)
        if (a.shape[i].value != b.shape[i].value || a.shape[i].symbol != b.shape[i].symbol)
            return "dim " + std::to_string(i) + " differs: " + a.shape[i].toString() + " vs " + b.shape[i].toString();
    if (a.isConstant() != b.isConstant()) return "constness differs";
    if (a.isConstant()) {
        std::string d = diffTensors(*a.constant, *b.constant);
        if (!d.empty()) return "constant: " + d;
    }
    auto producer = [](const Value& v) {
        return v.producer ? std::to_string(v.producer->id) + "/" + std::to_string(v.producerOutput)
                          : std::string("none");
    };
    if (producer(a) != producer(b)) return "producer " + producer(a) + " vs " + producer(b);
    return "";
}

/// "" when `a` and `b` hold the same values (matched by name), I/O, nodes and attributes.
inline std::string diffGraphs(const Graph& a, const Graph& b) {
    std::ostringstream out;
    if (a.name != b.name) return "graph name '" + a.name + "' vs '" + b.name + "'";
    size_t countA = 0, countB = 0;
    for (const auto& v : a.values()) {
        if (!v) continue;
        ++countA;
        const Value* w = b.findValue(v->name);
        if (!w) return "graph '" + a.name + "': value '" + v->name + "' is missing";
        std::string d = diffValues(*v, *w);
        if (!d.empty()) return "graph '" + a.name + "': value '" + v->name + "': " + d;
    }
    for (const auto& v : b.values()) countB += v ? 1 : 0;
    if (countA != countB) return "graph '" + a.name + "': value count differs";
    auto names = [](const std::vector<Value*>& list) {
        std::string s;
        for (const Value* v : list) s += describeValueRef(v) + ",";
        return s;
    };
    if (names(a.inputs()) != names(b.inputs())) return "inputs " + names(a.inputs()) + " vs " + names(b.inputs());
    if (names(a.outputs()) != names(b.outputs())) return "outputs " + names(a.outputs()) + " vs " + names(b.outputs());
    if (a.nodes().size() != b.nodes().size()) return "graph '" + a.name + "': node count differs";
    for (size_t i = 0; i < a.nodes().size(); ++i) {
        const Node& n = *a.nodes()[i];
        const Node& m = *b.nodes()[i];
        std::string where = "graph '" + a.name + "' " + n.describe() + ": ";
        if (n.id != m.id || n.name != m.name || n.opType != m.opType || n.domain != m.domain)
            return where + "identity differs from " + m.describe() + " domain '" + m.domain + "'";
        if (names(n.inputs) != names(m.inputs)) return where + "inputs " + names(n.inputs) + " vs " + names(m.inputs);
        if (names(n.outputs) != names(m.outputs))
            return where + "outputs " + names(n.outputs) + " vs " + names(m.outputs);
        if (n.sourceNodes != m.sourceNodes) return where + "source nodes differ";
        if (n.attrs.all().size() != m.attrs.all().size()) return where + "attribute count differs";
        for (const auto& [name, value] : n.attrs.all()) {
            const AttributeValue* other = m.attrs.find(name);
            if (!other) return where + "attribute '" + name + "' is missing";
            std::string d = diffAttributes(value, *other);
            if (!d.empty()) return where + "attribute '" + name + "': " + d;
        }
    }
    return "";
}

inline std::string diffPlans(const EnginePlan& a, const EnginePlan& b) {
    if (a.backend != b.backend || a.target != b.target) return "backend/target differ";
    if (!a.graph || !b.graph) return "missing graph";
    std::string d = diffGraphs(*a.graph, *b.graph);
    if (!d.empty()) return d;
    if (a.profiles.size() != b.profiles.size()) return "profile count differs";
    for (size_t i = 0; i < a.profiles.size(); ++i)
        if (a.profiles[i].inputs != b.profiles[i].inputs) return "profile " + std::to_string(i) + " differs";
    if (a.layers.size() != b.layers.size()) return "layer count differs";
    for (const auto& [id, layer] : a.layers) {
        auto it = b.layers.find(id);
        if (it == b.layers.end()) return "layer of node " + std::to_string(id) + " is missing";
        if (it->second.tactic != layer.tactic || it->second.precision != layer.precision)
            return "layer of node " + std::to_string(id) + " differs";
    }
    if (a.activationBytesPerProfile != b.activationBytesPerProfile) return "activation bytes differ";
    return "";
}

/// The low end of random data for `type`: negative only where the type has negatives.
inline double randomLow(DataType type) {
    return isSignedType(type) || isFloatingType(type) ? -50 : 0;
}

/// A one-node plan: input x (float, [batch, 4]) + a constant of `constantType`, output y.
inline EnginePlan makeSmallPlan(DataType constantType = DataType::kFLOAT) {
    EnginePlan plan;
    plan.backend = "cpu";
    plan.target = "test-cpu";
    plan.graph = std::make_unique<Graph>();
    Graph& g = *plan.graph;
    g.name = "small";
    Value* x = g.addInput("x", DataType::kFLOAT, {Dim::named("batch"), 4});
    Value* c = g.addConstant("c", randomTensor(constantType, {4}, randomLow(constantType), 3, 7));
    Node* n = g.addNode("Add", "add0", {x, c}, {"y"});
    n->outputs[0]->dtype = DataType::kFLOAT;
    n->outputs[0]->shape = {Dim::named("batch"), 4};
    n->outputs[0]->typeKnown = true;
    g.markOutput(n->outputs[0]);
    ProfileShapes profile;
    profile.inputs["x"] = {Shape{1, 4}, Shape{2, 4}, Shape{8, 4}};
    plan.profiles.push_back(profile);
    plan.layers[n->id] = {"cpu.add_broadcast", DataType::kFLOAT};
    plan.activationBytesPerProfile = {8 * 4 * 4};
    return plan;
}

/// Where each section of a serialized plan lies, read with the layout constants (not the reader).
struct SectionLocation {
    size_t offset{0};  // from the start of the file
    size_t size{0};
};
inline SectionLocation findSection(const std::vector<uint8_t>& file, PlanSectionId id) {
    uint64_t payloadOffset = 0;
    std::memcpy(&payloadOffset, file.data() + kPlanPayloadOffsetOffset, 8);
    uint32_t count = 0;
    std::memcpy(&count, file.data() + payloadOffset, 4);
    for (uint32_t i = 0; i < count; ++i) {
        const uint8_t* e = file.data() + payloadOffset + 4 + i * kSectionEntryBytes;
        uint32_t code = 0;
        uint64_t offset = 0, size = 0;
        std::memcpy(&code, e, 4);
        std::memcpy(&offset, e + 8, 8);
        std::memcpy(&size, e + 16, 8);
        if (code == static_cast<uint32_t>(id))
            return {static_cast<size_t>(payloadOffset + offset), static_cast<size_t>(size)};
    }
    return {};
}

}  // namespace kiln::test
