#pragma once
/// \file network.h
/// NetworkDefinition: the graph the builder optimizes. Filled by the ONNX parser or by hand.
/// Operator types and attribute names are ONNX's ("Conv", "kernel_shape", ...), so every
/// operator Kiln imports from ONNX can also be added by hand.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/types.h"

namespace kiln {

class AttributeMap;
class Graph;
class PluginFieldCollection;
struct Value;
class Node;
class NetworkDefinition;

/// A tensor of a network. Owned by its network; valid while the network lives.
class ITensor {
public:
    const char* getName() const noexcept;
    void setName(const char* name) noexcept;
    DataType getType() const noexcept;
    /// Dimensions; -1 for a dynamic or not-yet-inferred extent.
    Dims getDimensions() const noexcept;
    bool isNetworkInput() const noexcept;
    bool isNetworkOutput() const noexcept;

private:
    friend class NetworkDefinition;
    ITensor(NetworkDefinition* network, Value* value) : mNetwork(network), mValue(value) {}
    NetworkDefinition* mNetwork;
    Value* mValue;
};

/// Attributes of a layer, by ONNX name.
class LayerAttributes {
public:
    LayerAttributes& setInt(const std::string& name, int64_t value);
    LayerAttributes& setFloat(const std::string& name, float value);
    LayerAttributes& setString(const std::string& name, const std::string& value);
    LayerAttributes& setInts(const std::string& name, const std::vector<int64_t>& values);
    LayerAttributes& setFloats(const std::string& name, const std::vector<float>& values);

    struct Entry;
    const std::vector<Entry>& entries() const { return mEntries; }
    LayerAttributes();
    ~LayerAttributes();
    LayerAttributes(const LayerAttributes&);
    LayerAttributes& operator=(const LayerAttributes&);

private:
    std::vector<Entry> mEntries;
};

/// A layer (an operator node) of a network.
class ILayer {
public:
    const char* getName() const noexcept;
    void setName(const char* name) noexcept;
    /// The operator type, e.g. "Conv".
    const char* getType() const noexcept;
    int32_t getNbInputs() const noexcept;
    ITensor* getInput(int32_t index) const noexcept;
    int32_t getNbOutputs() const noexcept;
    ITensor* getOutput(int32_t index) const noexcept;

private:
    friend class NetworkDefinition;
    ILayer(NetworkDefinition* network, Node* node) : mNetwork(network), mNode(node) {}
    NetworkDefinition* mNetwork;
    Node* mNode;
};

enum class ActivationType : int32_t { kRELU, kSIGMOID, kTANH, kGELU_ERF, kLEAKY_RELU, kCLIP };
enum class ElementWiseOperation : int32_t { kSUM, kSUB, kPROD, kDIV, kPOW, kMAX, kMIN };

class NetworkDefinition {
public:
    ~NetworkDefinition();
    NetworkDefinition(const NetworkDefinition&) = delete;
    NetworkDefinition& operator=(const NetworkDefinition&) = delete;

    /// A network input. Use -1 for dimensions chosen at run time (they then need an
    /// optimization profile at build time).
    ITensor* addInput(const char* name, DataType type, const Dims& dims) noexcept;
    /// A constant; `data` (elementCount(dims) elements of `type`) is copied.
    ITensor* addConstant(const Dims& dims, DataType type, const void* data) noexcept;
    /// Any operator Kiln knows, by ONNX op type, with `nbOutputs` outputs. Missing optional
    /// inputs are nullptr. Returns nullptr (and logs why) when the op is unknown.
    ILayer* addLayer(const char* opType, const std::vector<ITensor*>& inputs, int32_t nbOutputs = 1,
                     const LayerAttributes& attributes = {}) noexcept;
    /// A layer computed by the registered plugin (name, version, namespace) with `fields`
    /// (kiln/plugin.h). Returns nullptr (and logs why) when no such plugin is registered, it refuses
    /// the fields or it cannot compute its outputs' types and shapes from these inputs.
    ILayer* addPluginLayer(const std::vector<ITensor*>& inputs, const char* name, const char* version,
                           const char* pluginNamespace, const PluginFieldCollection& fields) noexcept;

    // Conveniences in TensorRT's spelling, each an addLayer underneath.
    ILayer* addActivation(ITensor& input, ActivationType type, float alpha = 0.f, float beta = 0.f) noexcept;
    ILayer* addElementWise(ITensor& a, ITensor& b, ElementWiseOperation op) noexcept;
    ILayer* addMatrixMultiply(ITensor& a, ITensor& b) noexcept;
    /// 2-D convolution with OIHW `weights` (and an optional bias), square-free kernel and padding.
    ILayer* addConvolution(ITensor& input, ITensor& weights, ITensor* bias, const std::vector<int64_t>& strides,
                           const std::vector<int64_t>& pads, int64_t group = 1) noexcept;
    ILayer* addSoftMax(ITensor& input, int64_t axis = -1) noexcept;

    void markOutput(ITensor& tensor) noexcept;
    /// Removes `tensor` from the outputs.
    void unmarkOutput(ITensor& tensor) noexcept;

    int32_t getNbInputs() const noexcept;
    ITensor* getInput(int32_t index) const noexcept;
    int32_t getNbOutputs() const noexcept;
    ITensor* getOutput(int32_t index) const noexcept;
    int32_t getNbLayers() const noexcept;
    ILayer* getLayer(int32_t index) const noexcept;
    /// The tensor called `name`, or nullptr.
    ITensor* getTensor(const char* name) const noexcept;

    const char* getName() const noexcept;
    void setName(const char* name) noexcept;

    /// Internal: the IR graph behind this network (used by the parser and the builder).
    Graph& graph() noexcept { return *mGraph; }
    const Graph& graph() const noexcept { return *mGraph; }
    /// Internal: the handle of a value / node of graph() (created on demand, owned here).
    ITensor* tensorFor(Value* value) const;
    ILayer* layerFor(Node* node) const;

private:
    friend class Builder;
    explicit NetworkDefinition(class ILogger& logger);
    struct Handles;
    ILayer* addInferredLayer(const std::string& opType, const std::string& domain, const std::vector<ITensor*>& inputs,
                             int32_t nbOutputs, const AttributeMap& attrs, const std::string& call) noexcept;
    class ILogger& mLogger;
    std::unique_ptr<Graph> mGraph;
    std::unique_ptr<Handles> mHandles;
};

}  // namespace kiln
