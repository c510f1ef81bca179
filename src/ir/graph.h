#pragma once
// The IR graph: values (tensors) and nodes (operators) in topological order. The op types and
// attribute names are ONNX's (normalized by the importer to the newest opset's form), so that the
// ONNX spec is the IR's documentation; the types here are Kiln's own.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "ir/sym_shape.h"
#include "ir/tensor.h"
#include "ir/value_kind.h"

namespace kiln {

class Node;

/// A value of the graph: a graph input, a constant (initializer), or a node's output. Most are
/// tensors; a sequence or optional (`container`) has the handle's dtype and shape (ir/value_kind.h).
struct Value {
    int32_t id{-1};
    std::string name;
    DataType dtype{DataType::kFLOAT};
    SymShape shape;
    bool typeKnown{false};            // dtype and rank are set (by the model or by inference)
    ContainerType container;          // tensor, or what a sequence / optional holds
    std::optional<Tensor> constant;   // set for initializers and folded constants
    Node* producer{nullptr};
    int32_t producerOutput{-1};

    bool isConstant() const { return constant.has_value(); }
};

class Node {
public:
    int32_t id{-1};
    std::string name;
    std::string opType;
    std::string domain;  // "" is the ONNX standard domain
    std::vector<Value*> inputs;   // nullptr for an omitted optional input
    std::vector<Value*> outputs;  // nullptr for an omitted optional output
    AttributeMap attrs;
    /// Names of the model nodes this node stands for (fusions list several), for reports.
    std::vector<std::string> sourceNodes;

    Value* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
    Value* output(size_t i) const { return i < outputs.size() ? outputs[i] : nullptr; }
    bool hasInput(size_t i) const { return input(i) != nullptr; }
    /// "node 12 'Conv_3' (Conv)", the prefix of every error about this node.
    std::string describe() const;
};

class Graph {
public:
    Graph() = default;
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    std::string name;

    /// A new value; its name must be unique in the graph (empty names get a generated one).
    Value* addValue(const std::string& name, DataType dtype = DataType::kFLOAT);
    Value* addConstant(const std::string& name, Tensor tensor);
    Value* addInput(const std::string& name, DataType dtype, SymShape shape);
    /// Appends a node reading `inputs` and creating `numOutputs` new values named `outputNames`
    /// (generated when shorter).
    Node* addNode(const std::string& opType, const std::string& name, std::vector<Value*> inputs,
                  const std::vector<std::string>& outputNames, size_t numOutputs = 0);
    void markOutput(Value* value) { mOutputs.push_back(value); }

    Value* findValue(const std::string& name) const;
    Node* findNode(const std::string& name) const;

    const std::vector<Value*>& inputs() const { return mInputs; }
    const std::vector<Value*>& outputs() const { return mOutputs; }
    std::vector<Value*>& mutableOutputs() { return mOutputs; }
    const std::vector<std::unique_ptr<Node>>& nodes() const { return mNodes; }
    /// Every value ever created, by id (removed ones are nullptr).
    const std::vector<std::unique_ptr<Value>>& values() const { return mValues; }
    size_t valueCapacity() const { return mValues.size(); }
    Value* valueById(int32_t id) const { return mValues[static_cast<size_t>(id)].get(); }

    /// Nodes reading `value`, in graph order.
    std::vector<Node*> consumers(const Value* value) const;
    bool isGraphOutput(const Value* value) const;
    bool isGraphInput(const Value* value) const;

    /// Removes nodes for which `pred` is true (their outputs must be unused or replaced first).
    void removeNodes(const std::function<bool(const Node&)>& pred);
    /// Rewires every use of `from` (node inputs and graph outputs) to `to`.
    void replaceAllUses(Value* from, Value* to);
    /// Drops values that nothing produces, reads or lists as I/O.
    void removeUnusedValues();
    /// Restores topological order; fails when the graph has a cycle or reads an undefined value.
    bool topologicalSort();

    /// A deep copy (values, nodes, attributes; constants share their storage).
    std::unique_ptr<Graph> clone() const;

    /// A name not used by any value yet, derived from `base`.
    std::string uniqueValueName(const std::string& base);

private:
    std::vector<std::unique_ptr<Value>> mValues;
    std::vector<std::unique_ptr<Node>> mNodes;
    std::vector<Value*> mInputs;
    std::vector<Value*> mOutputs;
    int32_t mNextNodeId{0};
    uint64_t mNameCounter{0};
};

}  // namespace kiln
