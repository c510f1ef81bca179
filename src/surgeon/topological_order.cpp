#include "surgeon/topological_order.h"

#include <functional>
#include <queue>
#include <unordered_map>

namespace kiln::surgeon {

Expected<std::vector<size_t>> stableTopologicalOrder(const std::vector<OrderedNode>& nodes,
                                                     const std::unordered_set<std::string>& external) {
    std::unordered_map<std::string, size_t> producers;
    for (size_t i = 0; i < nodes.size(); ++i) {
        for (const std::string& name : nodes[i].writes) {
            if (external.count(name))
                return invalidModel("node '" + nodes[i].name + "' writes '" + name +
                                    "', which is already an initializer or a graph input");
            auto [it, added] = producers.emplace(name, i);
            if (!added)
                return invalidModel("tensor '" + name + "' is produced by both node '" + nodes[it->second].name +
                                    "' and node '" + nodes[i].name + "'");
        }
    }
    // Kahn's algorithm; a min-heap of ready positions keeps the given order wherever it is valid.
    std::vector<size_t> waitingFor(nodes.size(), 0);
    std::vector<std::vector<size_t>> readers(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
        std::unordered_set<size_t> producersOfNode;
        for (const std::string& name : nodes[i].reads) {
            auto it = producers.find(name);
            if (it == producers.end()) {
                if (external.count(name)) continue;
                return invalidModel("node '" + nodes[i].name + "' reads '" + name +
                                    "', which no node, initializer or graph input defines");
            }
            if (producersOfNode.insert(it->second).second) readers[it->second].push_back(i);
        }
        waitingFor[i] = producersOfNode.size();
    }
    std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
    for (size_t i = 0; i < nodes.size(); ++i)
        if (waitingFor[i] == 0) ready.push(i);
    std::vector<size_t> order;
    order.reserve(nodes.size());
    while (!ready.empty()) {
        const size_t next = ready.top();
        ready.pop();
        order.push_back(next);
        for (size_t reader : readers[next])
            if (--waitingFor[reader] == 0) ready.push(reader);
    }
    if (order.size() == nodes.size()) return order;
    std::string stuck;
    for (size_t i = 0; i < nodes.size(); ++i)
        if (waitingFor[i] != 0) stuck += (stuck.empty() ? "'" : ", '") + nodes[i].name + "'";
    return invalidModel("the graph has a cycle: nodes " + stuck +
                        " each wait, directly or through others, for one another's outputs");
}

}  // namespace kiln::surgeon
