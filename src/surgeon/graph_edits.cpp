// The structural edits: remove nodes, replace a subgraph by one node, insert a node, sort. Each
// one works out the whole result (names, order) on the side and checks it; only then does it touch
// the graph, so a failure leaves the graph as it was.

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "surgeon/graph_index.h"
#include "surgeon/new_node.h"
#include "surgeon/onnx_graph_impl.h"
#include "surgeon/topological_order.h"

namespace kiln::surgeon {

namespace {

constexpr int kNewNode = -1;  // in a node plan, the node being added

std::unordered_set<std::string> externalTensors(const onnx::GraphProto& graph) {
    std::unordered_set<std::string> names;
    for (const auto& init : graph.initializer()) names.insert(init.name());
    for (const auto& input : graph.input()) names.insert(input.name());
    return names;
}

/// The graph's nodes as the sort sees them, `plan` giving which (indices, or kNewNode for `added`).
std::vector<OrderedNode> orderedNodes(const GraphIndex& index, const onnx::GraphProto& graph,
                                      const std::vector<int>& plan, const onnx::NodeProto* added) {
    std::vector<OrderedNode> nodes;
    for (int i : plan) {
        if (i == kNewNode) {
            OrderedNode node{added->name(), {}, {}};
            for (const auto& input : added->input())
                if (!input.empty()) node.reads.push_back(input);
            for (const auto& output : added->output())
                if (!output.empty()) node.writes.push_back(output);
            nodes.push_back(std::move(node));
        } else {
            nodes.push_back({graph.node(i).name(), index.reads(i), index.writes(i)});
        }
    }
    return nodes;
}

/// Makes the graph's node list `plan` taken in `order` (positions into `plan`); nodes left out of
/// `plan` are dropped, kNewNode is `added`.
void rebuildNodes(onnx::GraphProto& graph, const std::vector<int>& plan, const std::vector<size_t>& order,
                  onnx::NodeProto* added) {
    google::protobuf::RepeatedPtrField<onnx::NodeProto> old;
    old.Swap(graph.mutable_node());
    for (size_t position : order) {
        const int i = plan[position];
        graph.add_node()->Swap(i == kNewNode ? added : old.Mutable(i));
    }
}

/// The nodes of `plan` in a valid order, or the reason there is none.
Expected<std::vector<size_t>> validOrder(const GraphIndex& index, const onnx::GraphProto& graph,
                                         const std::vector<int>& plan, const onnx::NodeProto* added) {
    return stableTopologicalOrder(orderedNodes(index, graph, plan, added), externalTensors(graph));
}

std::string quotedList(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "'" : ", '") + name + "'";
    return out;
}

}  // namespace

Status removeNodes(onnx::GraphProto& graph, const std::vector<std::string>& names, bool reconnect) {
    const GraphIndex index(graph);
    KILN_ASSIGN_OR_RETURN(std::vector<int> removed, index.findNodes(names));
    std::unordered_set<int> removedSet(removed.begin(), removed.end());

    // With reconnect, a removed node's first output stands for its first input; through a chain of
    // removed pass-through nodes, for the first input outside the chain.
    std::unordered_map<std::string, std::string> replacement;
    if (reconnect) {
        for (int i : removed) {
            const onnx::NodeProto& node = graph.node(i);
            if (node.output_size() > 0 && !node.output(0).empty() && node.input_size() > 0 && !node.input(0).empty())
                replacement[node.output(0)] = node.input(0);
        }
        for (auto& [from, to] : replacement) {
            for (size_t hops = 0; replacement.count(to) && hops <= replacement.size(); ++hops) to = replacement.at(to);
            if (replacement.count(to)) return invalidModel("the removed nodes reading '" + from + "' form a cycle");
        }
    }
    for (int i : removed) {
        for (const std::string& tensor : index.writes(i)) {
            if (index.isGraphOutput(tensor))
                return invalidArgument("graph output '" + tensor + "' would lose its producer, " + index.describe(i));
            const bool reconnected = replacement.count(tensor) != 0;
            for (int reader : index.consumers(tensor)) {
                if (removedSet.count(reader)) continue;
                if (!reconnected)
                    return invalidArgument(index.describe(reader) + " still reads '" + tensor + "' of " +
                                           index.describe(i) + "; remove it too, or reconnect pass-through nodes");
                const auto& inputs = graph.node(reader).input();
                if (std::find(inputs.begin(), inputs.end(), tensor) == inputs.end())
                    return unsupported(index.describe(reader) + " reads '" + tensor + "' of " + index.describe(i) +
                                       " inside a subgraph, which reconnecting does not rewrite");
            }
        }
    }

    std::vector<int> kept;
    std::vector<size_t> order;
    for (int i = 0; i < graph.node_size(); ++i) {
        if (removedSet.count(i)) continue;
        order.push_back(kept.size());
        kept.push_back(i);
    }
    for (int i : kept)
        for (std::string& input : *graph.mutable_node(i)->mutable_input())
            if (auto it = replacement.find(input); it != replacement.end()) input = it->second;
    rebuildNodes(graph, kept, order, nullptr);
    return Status::ok();
}

Status replaceSubgraph(onnx::ModelProto& model, const std::vector<std::string>& names, const NewNode& node,
                       const ReplaceOptions& options) {
    onnx::GraphProto& graph = *model.mutable_graph();
    const GraphIndex index(graph);
    if (names.empty()) return invalidArgument("no nodes to replace were named");
    KILN_ASSIGN_OR_RETURN(std::vector<int> replaced, index.findNodes(names));
    const std::unordered_set<int> replacedSet(replaced.begin(), replaced.end());
    if (Expected<int> clash = index.findNode(node.name); clash && !replacedSet.count(*clash))
        return invalidArgument("the new node's name '" + node.name + "' is taken by " + index.describe(*clash));

    std::unordered_set<std::string> producedInside;
    for (int i : replaced)
        for (const std::string& tensor : index.writes(i)) producedInside.insert(tensor);

    // The boundary: what the set reads from outside, and what the rest of the graph needs from it.
    std::vector<std::string> boundaryInputs;
    std::unordered_set<std::string> seen;
    for (int i : replaced)
        for (const std::string& tensor : index.reads(i)) {
            if (producedInside.count(tensor) || !seen.insert(tensor).second) continue;
            if (!options.initializerInputs && index.isConstantInitializer(tensor)) continue;
            boundaryInputs.push_back(tensor);
        }
    std::vector<std::string> boundaryOutputs;
    std::unordered_map<std::string, std::string> neededBecause;
    for (int i : replaced)
        for (const std::string& tensor : index.writes(i)) {
            if (index.isGraphOutput(tensor)) {
                neededBecause[tensor] = "is a graph output";
            } else {
                for (int reader : index.consumers(tensor))
                    if (!replacedSet.count(reader)) {
                        neededBecause[tensor] = "is read by " + index.describe(reader);
                        break;
                    }
            }
            if (neededBecause.count(tensor)) boundaryOutputs.push_back(tensor);
        }

    const std::vector<std::string>& inputs = node.inputs.empty() ? boundaryInputs : node.inputs;
    const std::vector<std::string>& outputs = node.outputs.empty() ? boundaryOutputs : node.outputs;
    for (const std::string& input : inputs) {
        if (input.empty()) continue;
        if (producedInside.count(input))
            return invalidArgument("input '" + input + "' is produced inside the replaced nodes, by " +
                                   index.describe(index.producer(input)));
        if (!index.isDefined(input))
            return invalidArgument("input '" + input + "' is defined by no node, initializer or graph input");
    }
    std::unordered_set<std::string> outputSet;
    for (const std::string& output : outputs) {
        if (output.empty()) return invalidArgument("the new node's outputs include an empty name");
        if (!outputSet.insert(output).second)
            return invalidArgument("output '" + output + "' is listed twice among the new node's outputs");
        if (!producedInside.count(output) && index.isDefined(output))
            return invalidArgument("output '" + output + "' is already defined outside the replaced nodes");
    }
    for (const std::string& tensor : boundaryOutputs)
        if (!outputSet.count(tensor))
            return invalidArgument("tensor '" + tensor + "' of " + index.describe(index.producer(tensor)) + " " +
                                   neededBecause.at(tensor) + " outside the replaced nodes; list it among the new node's outputs");
    if (outputs.empty())
        return invalidArgument("nothing outside the replaced nodes reads their outputs, so the new node would have "
                               "none; name its outputs, or remove the nodes instead");

    KILN_ASSIGN_OR_RETURN(onnx::NodeProto added, makeNodeProto(node, inputs, outputs));
    // The new node takes the first replaced node's place; the sort moves whatever must move.
    std::vector<int> plan;
    for (int i = 0; i < graph.node_size(); ++i) {
        if (i == replaced.front()) plan.push_back(kNewNode);
        if (!replacedSet.count(i)) plan.push_back(i);
    }
    Expected<std::vector<size_t>> order = validOrder(index, graph, plan, &added);
    if (!order)
        return order.status().withContext("replacing nodes " + quotedList(names) + " by '" + node.name + "' fails");
    rebuildNodes(graph, plan, *order, &added);
    importDomain(model, node.domain);
    return Status::ok();
}

Status insertNode(onnx::ModelProto& model, const NewNode& node) {
    onnx::GraphProto& graph = *model.mutable_graph();
    const GraphIndex index(graph);
    if (Expected<int> clash = index.findNode(node.name); clash)
        return invalidArgument("the new node's name '" + node.name + "' is taken by " + index.describe(*clash));
    // Right after the last producer of its inputs: its outputs are new, so nothing reads them yet.
    int position = 0;
    for (const std::string& input : node.inputs) {
        if (input.empty()) continue;
        if (!index.isDefined(input))
            return invalidArgument("input '" + input + "' is defined by no node, initializer or graph input");
        position = std::max(position, index.producer(input) + 1);
    }
    std::unordered_set<std::string> outputSet;
    for (const std::string& output : node.outputs) {
        if (output.empty()) return invalidArgument("the new node's outputs include an empty name");
        if (!outputSet.insert(output).second)
            return invalidArgument("output '" + output + "' is listed twice among the new node's outputs");
        if (index.isDefined(output) || !index.consumers(output).empty() || index.isGraphOutput(output))
            return invalidArgument("output '" + output + "' is a name the graph already uses");
    }
    KILN_ASSIGN_OR_RETURN(onnx::NodeProto added, makeNodeProto(node, node.inputs, node.outputs));
    std::vector<int> plan;
    for (int i = 0; i < graph.node_size(); ++i) {
        if (i == position) plan.push_back(kNewNode);
        plan.push_back(i);
    }
    if (position == graph.node_size()) plan.push_back(kNewNode);
    std::vector<size_t> order(plan.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    rebuildNodes(graph, plan, order, &added);
    importDomain(model, node.domain);
    return Status::ok();
}

Status toposort(onnx::GraphProto& graph) {
    const GraphIndex index(graph);
    std::vector<int> plan(static_cast<size_t>(graph.node_size()));
    for (size_t i = 0; i < plan.size(); ++i) plan[i] = static_cast<int>(i);
    KILN_ASSIGN_OR_RETURN(std::vector<size_t> order, validOrder(index, graph, plan, nullptr));
    rebuildNodes(graph, plan, order, nullptr);
    return Status::ok();
}

}  // namespace kiln::surgeon
