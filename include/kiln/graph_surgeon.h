#pragma once
/// \file graph_surgeon.h
/// Graph surgery on ONNX models (onnx-graphsurgeon / Polygraphy surgeon's jobs): find nodes, replace a
/// subgraph by one new node (for instance an op that a plugin implements), remove nodes, clean up,
/// fold constants, sort topologically and save the edited model as ONNX.
///
/// Nodes are addressed by name. At load, a node without a name gets one ("<op type>_<index>"),
/// which the saved model keeps, so that every node can be named. A name that several nodes share
/// can be found but not edited: an edit naming it fails and says so.
///
/// Every edit is checked before anything changes: a failing call returns false (or -1), tells the
/// logger why at kERROR, naming the node or tensor, and leaves the model as it was.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/logger.h"
#include "kiln/network.h"

namespace kiln::surgeon {

/// Which nodes findNodes() returns: those matching every field that is set (an empty query matches
/// every node).
struct NodeQuery {
    std::string name;                   ///< exact node name
    std::string opType;                 ///< exact op type, e.g. "Conv"
    std::optional<std::string> domain;  ///< exact domain; "" (or "ai.onnx") is ONNX's default domain
    /// Name prefix: the namespaces exporters write, e.g. "/encoder/layer.0/" (torch) or "FeatureExtractor/".
    std::string namePrefix;
};

/// One node, as the graph holds it. Omitted optional inputs and outputs are "".
struct NodeInfo {
    std::string name;
    std::string opType;
    std::string domain;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::vector<std::string> attributeNames;
};

/// One tensor and how the graph uses it.
struct TensorInfo {
    std::string name;
    std::string producer;                ///< the node computing it; "" for initializers and graph inputs
    std::vector<std::string> consumers;  ///< nodes reading it, in graph order (subgraphs' reads count for their node)
    bool isInitializer{false};
    bool isGraphInput{false};
    bool isGraphOutput{false};
};

/// A node to add to the graph.
struct NewNode {
    std::string name;    ///< must not be another remaining node's name
    std::string opType;  ///< e.g. "GridAnchor", "NMS": the op a plugin registers
    std::string domain;  ///< "" for ONNX's default domain; a new domain is added to the model's opset imports
    LayerAttributes attributes;
    /// Tensor names in order ("" for an omitted optional input). For replaceSubgraph, empty means the
    /// subgraph's boundary inputs.
    std::vector<std::string> inputs;
    /// New tensor names, or for replaceSubgraph the replaced nodes' tensors it takes over. For
    /// replaceSubgraph, empty means the subgraph's boundary outputs.
    std::vector<std::string> outputs;
};

struct ReplaceOptions {
    /// Whether initializers read by the replaced nodes are among the boundary inputs (when
    /// NewNode::inputs is empty). Without them, a plugin that holds its own weights gets only the
    /// activations; cleanup() then drops the initializers nothing reads.
    bool initializerInputs{true};
};

struct CleanupOptions {
    /// Also remove graph inputs that no node reads (and that are not graph outputs).
    bool removeUnusedGraphInputs{false};
};

struct FoldOptions {
    /// A node whose outputs would take more bytes than this (together) stays unfolded; 0: no limit.
    /// Folding an Expand or a Tile of a small constant can make the model much larger.
    size_t maxTensorBytes{0};
};

/// An ONNX model loaded for editing.
///
/// External data: load() reads every external-data tensor into the model, so the edited model
/// can be saved anywhere; save() writes all weights inside the one .onnx file, which protobuf limits
/// to 2 GB (a larger model fails to save, with that reason).
class OnnxGraph {
public:
    ~OnnxGraph();
    OnnxGraph(const OnnxGraph&) = delete;
    OnnxGraph& operator=(const OnnxGraph&) = delete;

    /// Reads the model at `path`; external data is read relative to its folder. nullptr when the
    /// file cannot be read or is not an ONNX model (the logger says why). `logger` must outlive the graph.
    static std::unique_ptr<OnnxGraph> load(const char* path, ILogger& logger) noexcept;
    /// Parses a serialized model; `modelDir` locates external data (nullptr: the model has none).
    static std::unique_ptr<OnnxGraph> loadFromMemory(const void* data, size_t size, ILogger& logger,
                                                     const char* modelDir = nullptr) noexcept;

    /// Writes the model to `path` (ONNX protobuf). False when it cannot be written.
    bool save(const char* path) const noexcept;
    /// The serialized model in `bytes`. False (bytes untouched) when it exceeds protobuf's 2 GB.
    bool serialize(std::string& bytes) const noexcept;

    // Queries. Names given that the graph lacks yield empty results, not errors.

    /// Names of the nodes matching `query`, in graph order.
    std::vector<std::string> findNodes(const NodeQuery& query) const noexcept;
    /// The node called `name`; nullopt when none (or several) is.
    std::optional<NodeInfo> node(const std::string& name) const noexcept;
    /// The tensor called `name`; nullopt when the graph neither defines nor reads it.
    std::optional<TensorInfo> tensor(const std::string& name) const noexcept;
    /// All node names, in graph order.
    std::vector<std::string> nodeNames() const noexcept;
    std::vector<std::string> graphInputs() const noexcept;
    std::vector<std::string> graphOutputs() const noexcept;

    // Edits.

    /// Removes the nodes called `names`. Each removed node's outputs must be unused afterwards: a
    /// remaining node reading one, or a graph output that would lose its producer, is an error
    /// naming both. With `reconnect`, readers of a removed node's first output read its first input
    /// instead (removing pass-through nodes: Identity, inference-time Dropout); the other rules stay.
    bool removeNodes(const std::vector<std::string>& names, bool reconnect = false) noexcept;

    /// Replaces the nodes called `names` by `node`, put where it is topologically valid (the
    /// graph is re-sorted, stably, when needed). Empty `node.inputs`: the boundary inputs, the tensors
    /// the set reads that are defined outside it, in first-use order. Empty `node.outputs`: the
    /// boundary outputs, the tensors the set produces that remaining nodes read or that are graph
    /// outputs, in production order. Explicit outputs must include every boundary output; an input
    /// must be defined outside the set. Fails (graph unchanged) when the replacement would create a cycle.
    bool replaceSubgraph(const std::vector<std::string>& names, const NewNode& node,
                         const ReplaceOptions& options = {}) noexcept;

    /// Adds `node` reading existing tensors and producing new ones, after the producers of its inputs.
    bool insertNode(const NewNode& node) noexcept;

    /// Removes nodes that no graph output depends on, initializers nothing reads, and value_info of
    /// tensors that are gone (and, optionally, unused graph inputs).
    bool cleanup(const CleanupOptions& options = {}) noexcept;

    /// Orders the nodes so that each comes after the producers of what it reads; nodes already in
    /// order keep their order. Fails (graph unchanged) on a cycle or a tensor nothing defines.
    bool toposort() noexcept;

    /// Computes, with Kiln's CPU kernels, every deterministic node whose inputs are all constants
    /// (initializers, Constant nodes' outputs, and so on transitively) and replaces the folded nodes'
    /// outputs by initializers. Nodes Kiln cannot import or evaluate, nodes with subgraphs, random
    /// generators and outputs over `maxTensorBytes` stay. Nodes left without readers stay until
    /// cleanup(). Returns the number of nodes folded, -1 on failure.
    int64_t foldConstants(const FoldOptions& options = {}) noexcept;

    struct Impl;

private:
    explicit OnnxGraph(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> mImpl;
};

}  // namespace kiln::surgeon
