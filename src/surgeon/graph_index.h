#pragma once
// Who produces and who reads each tensor of an ONNX GraphProto, by name: the lookups every graph edit
// and query starts from. Built fresh for each operation (edits change the graph; an index kept
// across edits would have to be kept in step with each of them).

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "onnx.pb.h"

namespace kiln::surgeon {

/// The names a node's subgraphs (If / Loop / Scan bodies) read from the enclosing graph, in first-use
/// order: such a node depends on those tensors although its input list does not name them.
std::vector<std::string> outerScopeReads(const onnx::NodeProto& node);

class GraphIndex {
public:
    explicit GraphIndex(const onnx::GraphProto& graph);

    /// Index of the node producing `tensor`, -1 when none does.
    int producer(const std::string& tensor) const;
    /// Indices of the nodes reading `tensor` (inputs or subgraph reads), ascending, each once.
    const std::vector<int>& consumers(const std::string& tensor) const;
    /// A node's reads: its non-empty inputs, then its subgraphs' outer-scope reads.
    const std::vector<std::string>& reads(int node) const { return mReads[static_cast<size_t>(node)]; }
    /// A node's non-empty outputs.
    const std::vector<std::string>& writes(int node) const { return mWrites[static_cast<size_t>(node)]; }
    size_t nodeCount() const { return mReads.size(); }

    bool isInitializer(const std::string& tensor) const { return mInitializers.count(tensor) != 0; }
    bool isGraphInput(const std::string& tensor) const { return mInputs.count(tensor) != 0; }
    bool isGraphOutput(const std::string& tensor) const { return mOutputs.count(tensor) != 0; }
    /// A constant: an initializer that no graph input overrides (before IR version 4, an
    /// initializer listed as an input is only the input's default).
    bool isConstantInitializer(const std::string& tensor) const { return isInitializer(tensor) && !isGraphInput(tensor); }
    /// Defined by an initializer or a graph input, i.e. available before any node runs.
    bool isExternal(const std::string& tensor) const { return isInitializer(tensor) || isGraphInput(tensor); }
    bool isDefined(const std::string& tensor) const { return isExternal(tensor) || producer(tensor) >= 0; }

    /// The index of the one node called `name`: an error when no node or several nodes are.
    Expected<int> findNode(const std::string& name) const;
    /// findNode for each name, ascending and without repeats; an error for the first bad name.
    Expected<std::vector<int>> findNodes(const std::vector<std::string>& names) const;

    /// "node 'Conv_3' (Conv)", as messages name a node.
    std::string describe(int node) const;

private:
    const onnx::GraphProto& mGraph;
    std::vector<std::vector<std::string>> mReads;
    std::vector<std::vector<std::string>> mWrites;
    std::unordered_map<std::string, int> mProducers;
    std::unordered_map<std::string, std::vector<int>> mConsumers;
    std::unordered_map<std::string, std::vector<int>> mNodesByName;
    std::unordered_set<std::string> mInitializers;
    std::unordered_set<std::string> mInputs;
    std::unordered_set<std::string> mOutputs;
};

}  // namespace kiln::surgeon
