#include "surgeon/graph_index.h"

namespace kiln::surgeon {

namespace {

/// Appends to `out` the names `graph` reads without defining them (its inputs, initializers and node
/// outputs are its own), nested subgraphs included.
void collectOuterReads(const onnx::GraphProto& graph, std::vector<std::string>& out,
                       std::unordered_set<std::string>& seen) {
    std::unordered_set<std::string> local;
    for (const auto& input : graph.input()) local.insert(input.name());
    for (const auto& init : graph.initializer()) local.insert(init.name());
    for (const auto& node : graph.node())
        for (const auto& output : node.output()) local.insert(output);
    auto note = [&](const std::string& name) {
        if (!name.empty() && !local.count(name) && seen.insert(name).second) out.push_back(name);
    };
    for (const auto& node : graph.node()) {
        for (const auto& input : node.input()) note(input);
        for (const std::string& name : outerScopeReads(node)) note(name);
    }
    for (const auto& output : graph.output()) note(output.name());
}

}  // namespace

std::vector<std::string> outerScopeReads(const onnx::NodeProto& node) {
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    for (const auto& attr : node.attribute()) {
        if (attr.has_g()) collectOuterReads(attr.g(), out, seen);
        for (const auto& graph : attr.graphs()) collectOuterReads(graph, out, seen);
    }
    return out;
}

GraphIndex::GraphIndex(const onnx::GraphProto& graph) : mGraph(graph) {
    for (const auto& init : graph.initializer()) mInitializers.insert(init.name());
    for (const auto& input : graph.input()) mInputs.insert(input.name());
    for (const auto& output : graph.output()) mOutputs.insert(output.name());
    const int count = graph.node_size();
    mReads.resize(static_cast<size_t>(count));
    mWrites.resize(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        const onnx::NodeProto& node = graph.node(i);
        mNodesByName[node.name()].push_back(i);
        auto& reads = mReads[static_cast<size_t>(i)];
        for (const auto& input : node.input())
            if (!input.empty()) reads.push_back(input);
        for (std::string& name : outerScopeReads(node)) reads.push_back(std::move(name));
        for (const std::string& name : reads) {
            std::vector<int>& readers = mConsumers[name];
            if (readers.empty() || readers.back() != i) readers.push_back(i);
        }
        for (const auto& output : node.output()) {
            if (output.empty()) continue;
            mWrites[static_cast<size_t>(i)].push_back(output);
            mProducers.emplace(output, i);  // a second producer is the topological sort's error to report
        }
    }
}

int GraphIndex::producer(const std::string& tensor) const {
    auto it = mProducers.find(tensor);
    return it == mProducers.end() ? -1 : it->second;
}

const std::vector<int>& GraphIndex::consumers(const std::string& tensor) const {
    static const std::vector<int> kNone;
    auto it = mConsumers.find(tensor);
    return it == mConsumers.end() ? kNone : it->second;
}

Expected<int> GraphIndex::findNode(const std::string& name) const {
    auto it = mNodesByName.find(name);
    if (it == mNodesByName.end()) return invalidArgument("no node is called '" + name + "'");
    if (it->second.size() > 1)
        return invalidArgument(std::to_string(it->second.size()) + " nodes are called '" + name +
                               "'; a node to edit must have a name of its own");
    return it->second.front();
}

Expected<std::vector<int>> GraphIndex::findNodes(const std::vector<std::string>& names) const {
    std::vector<bool> chosen(mReads.size(), false);
    for (const std::string& name : names) {
        KILN_ASSIGN_OR_RETURN(int index, findNode(name));
        chosen[static_cast<size_t>(index)] = true;
    }
    std::vector<int> out;
    for (size_t i = 0; i < chosen.size(); ++i)
        if (chosen[i]) out.push_back(static_cast<int>(i));
    return out;
}

std::string GraphIndex::describe(int node) const {
    const onnx::NodeProto& proto = mGraph.node(node);
    return "node '" + proto.name() + "' (" + proto.op_type() + ")";
}

}  // namespace kiln::surgeon
