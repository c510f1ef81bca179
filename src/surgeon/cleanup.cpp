// cleanup(): what no graph output depends on goes (Polygraphy's and onnx-graphsurgeon's cleanup).

#include <unordered_set>

#include "surgeon/graph_index.h"
#include "surgeon/onnx_graph_impl.h"

namespace kiln::surgeon {

namespace {

/// Keeps the elements of `field` for which `keep` holds, in order; returns how many went.
template <typename Field, typename Keep>
size_t keepOnly(Field& field, Keep&& keep) {
    const int before = field.size();
    int kept = 0;
    for (int i = 0; i < field.size(); ++i)
        if (keep(field.Get(i))) field.SwapElements(i, kept++);
    field.DeleteSubrange(kept, field.size() - kept);
    return static_cast<size_t>(before - kept);
}

}  // namespace

Expected<std::string> cleanup(onnx::GraphProto& graph, const CleanupOptions& options) {
    const GraphIndex index(graph);
    // Liveness, backwards from the graph outputs through each live node's reads.
    std::unordered_set<std::string> liveTensors;
    std::vector<bool> liveNodes(index.nodeCount(), false);
    std::vector<std::string> pending;
    for (const auto& output : graph.output()) pending.push_back(output.name());
    while (!pending.empty()) {
        const std::string tensor = std::move(pending.back());
        pending.pop_back();
        if (!liveTensors.insert(tensor).second) continue;
        const int producer = index.producer(tensor);
        if (producer < 0 || liveNodes[static_cast<size_t>(producer)]) continue;
        liveNodes[static_cast<size_t>(producer)] = true;
        for (const std::string& read : index.reads(producer)) pending.push_back(read);
    }
    // A live node's other outputs stay (nobody reads them, but the node computes them).
    std::unordered_set<std::string> remaining(liveTensors);
    for (size_t i = 0; i < liveNodes.size(); ++i)
        if (liveNodes[i])
            for (const std::string& tensor : index.writes(static_cast<int>(i))) remaining.insert(tensor);

    int position = 0;
    const size_t nodes = keepOnly(*graph.mutable_node(),
                                  [&](const onnx::NodeProto&) { return liveNodes[static_cast<size_t>(position++)]; });
    auto inputKept = [&](const std::string& name) { return !options.removeUnusedGraphInputs || liveTensors.count(name); };
    const size_t inputs =
        keepOnly(*graph.mutable_input(), [&](const onnx::ValueInfoProto& input) { return inputKept(input.name()); });
    // An initializer that is also a graph input is that input's default: it goes with the input.
    const size_t initializers = keepOnly(*graph.mutable_initializer(), [&](const onnx::TensorProto& init) {
        return liveTensors.count(init.name()) || (index.isGraphInput(init.name()) && inputKept(init.name()));
    });
    const size_t infos = keepOnly(*graph.mutable_value_info(),
                                  [&](const onnx::ValueInfoProto& info) { return remaining.count(info.name()) != 0; });
    std::string summary = "removed " + std::to_string(nodes) + " nodes, " + std::to_string(initializers) +
                          " initializers, " + std::to_string(infos) + " value_info entries";
    if (options.removeUnusedGraphInputs) summary += ", " + std::to_string(inputs) + " graph inputs";
    return summary;
}

}  // namespace kiln::surgeon
