#pragma once
// The ONNX graph importer: one GraphProto (the model's graph, or a subgraph of If / Loop / Scan)
// into one kiln::Graph. Per node: resolve inputs, convert attributes, apply the opset upgrades
// (opset_upgrade.h), add the IR node(s), infer their outputs' types and shapes, log. Problems are
// collected, not fatal, so one import reports all of them; nodes downstream of a failed one are
// imported but not inferred (their inputs have no known type), which keeps one root cause from
// producing a cascade of errors.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "common/logging.h"
#include "frontend/onnx/contrib_expansion.h"
#include "frontend/onnx/opset_upgrade.h"
#include "ir/shape_inference.h"
#include "kiln/parser.h"
#include "kiln/plugin.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

/// What the import of one model shares across its graph and subgraphs.
struct ImportSession {
    ImportSession(ILogger* logger, int64_t opset, std::string modelDir);
    ImportSession(const ImportSession&) = delete;
    ImportSession& operator=(const ImportSession&) = delete;

    Logger log;
    bool verbose;
    int64_t opset;         // the model's default-domain opset
    std::string modelDir;  // external data is relative to it; "" when unknown
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions inference;  // evaluates small values (shape tensors) with `evaluator`
    std::vector<ParserError> errors;
    /// "node 4 'foo' (Foo)" for each node whose operator Kiln lacks, subgraphs included.
    std::vector<std::string> unsupportedNodes;

    /// Records `error`, logging it now unless `logNow` is false (unsupported operators are logged
    /// together, in one message, at the end).
    void addError(ParserError error, bool logNow = true);
};

/// Imports the model's graph into `graph`. Errors land in `session.errors`; all unsupported nodes
/// are also reported in one logged message.
void importModelGraph(onnx::GraphProto& proto, Graph& graph, ImportSession& session);

class GraphImporter final : public ExpansionHost {
public:
    /// `parent` imports the enclosing graph (nullptr for the model's graph); `scope` says where a
    /// subgraph sits ("subgraph 'body' of node 3 'Loop_3' (Loop)") and prefixes its errors.
    GraphImporter(ImportSession& session, Graph& graph, GraphImporter* parent, std::string scope);

    void importGraph(onnx::GraphProto& proto);

    Value* addHelperConstant(const std::string& baseName, Tensor tensor) override;
    Value* addHelperNode(const std::string& opType, const std::string& nodeName, std::vector<Value*> inputs,
                         AttributeMap attrs) override;
    const ValueInfo* knownInfo(const Value* value) const override;
    std::vector<Value*> addExpansionNode(const std::string& opType, std::vector<Value*> inputs, AttributeMap attrs,
                                         const std::vector<std::string>& outputNames) override;

private:
    /// The ONNX node being imported, as errors name it.
    struct NodeRef {
        int64_t index;
        std::string name;
        std::string opType;
        std::string domain;
    };

    void importInitializers(onnx::GraphProto& proto);
    void importInputs(const onnx::GraphProto& proto);
    void importNode(int64_t index, onnx::NodeProto& proto);
    void importConstantNode(const NodeRef& where, onnx::NodeProto& proto);
    void emitNode(const NodeRef& where, NodeDraft& draft);
    /// A contrib op (contrib_expansion.h), drafted like any node, imported as its expansion's standard ops.
    void expandContribNode(const NodeRef& where, const NodeDraft& draft, ContribExpansion expansion);
    /// A node Kiln cannot import but a registered plugin implements (plugins/plugin_node.h): one plugin
    /// layer whose fields are the node's attributes.
    void emitPluginNode(const NodeRef& where, NodeDraft& draft, IPluginCreator& creator);
    /// Infers the nodes added since `firstNode` (all standing for `where`), logging them when verbose.
    void inferNodesSince(size_t firstNode, const NodeRef& where);
    void inferImportedNode(Node& node, const NodeRef& where);
    void importOutputs(const onnx::GraphProto& proto);

    /// The value called `name` in this graph or, captured, in an enclosing one (subgraph_import.cpp).
    Value* resolve(const std::string& name);
    /// A new input of this (sub)graph standing for the enclosing graph's `outer`.
    Value* captureOuter(Value* outer);
    std::shared_ptr<Graph> importSubgraph(onnx::GraphProto& proto, const std::string& attrName, const NodeRef& owner);

    /// An If whose condition is known at import imports as its taken branch, inlined
    /// (if_inlining.cpp). False when the node is not such an If.
    bool importIfWithKnownCondition(const NodeRef& where, onnx::NodeProto& proto, const std::vector<Value*>& inputs,
                                    const std::vector<std::string>& outputNames);
    void inlineBranch(const NodeRef& where, const Graph& branch, const std::vector<std::string>& outputNames);

    Value* resolveInput(const NodeRef& where, size_t position, const std::string& name);
    bool checkOutputNames(const NodeRef& where, const std::vector<std::string>& names);
    void definePlaceholders(const std::vector<std::string>& names);
    void define(Value* value);
    void recordInfo(const Value& value);
    std::string freshName(const std::string& base);
    std::string definitionOf(const Value& value) const;

    static std::string describeNode(const NodeRef& where);
    std::string scoped(const std::string& message) const;
    void nodeError(const NodeRef& where, const std::string& message, bool logNow = true);
    void graphError(const std::string& message);

    ImportSession& mSession;
    Graph& mGraph;
    GraphImporter* mParent;
    std::string mScope;
    std::string mCurrentNodeName;                         // sourceNodes of the helper nodes being added
    std::map<std::string, int> mExpansionOpCounts;        // the contrib expansion's nodes so far, by op type
    std::unordered_map<std::string, Value*> mValues;      // the names defined so far in this graph
    std::unordered_map<std::string, int64_t> mDefinedBy;  // node output name -> index of its node
    std::unordered_set<std::string> mReserved;            // every name the GraphProto uses, nested ones too
    std::unordered_set<std::string> mFresh;               // names made up for helper values
    std::vector<ValueInfo> mInfos;                        // by value id

    // Captures (subgraph_import.cpp). In a subgraph: the enclosing graph's value behind each
    // capture input, in input order, and the values to capture before any node (those its sibling
    // subgraphs captured already). In the enclosing graph, while one node's subgraphs import:
    // everything they captured so far, in order, and the subgraphs imported so far.
    std::vector<Value*> mCapturedOuter;
    std::vector<Value*> mPredeclaredCaptures;
    std::vector<Value*> mNodeCaptures;
    std::vector<std::shared_ptr<Graph>> mNodeSubgraphs;
};

}  // namespace kiln::onnx_import
