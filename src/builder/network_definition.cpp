// NetworkDefinition: the public face of an IR Graph. Handles (ITensor / ILayer) are created on
// demand and owned by the network, so their pointers stay valid while it lives.

#include <cstring>
#include <sstream>
#include <unordered_map>

#include "common/logging.h"
#include "ir/graph.h"
#include "backends/cpu/cpu_backend.h"
#include "builder/layer_attribute_entry.h"
#include "ir/op_registry.h"
#include "ir/shape_inference.h"
#include "kiln/network.h"
#include "plugins/plugin_node.h"

namespace kiln {

LayerAttributes::LayerAttributes() = default;
LayerAttributes::~LayerAttributes() = default;
LayerAttributes::LayerAttributes(const LayerAttributes&) = default;
LayerAttributes& LayerAttributes::operator=(const LayerAttributes&) = default;

LayerAttributes& LayerAttributes::setInt(const std::string& name, int64_t value) {
    mEntries.push_back({name, value});
    return *this;
}
LayerAttributes& LayerAttributes::setFloat(const std::string& name, float value) {
    mEntries.push_back({name, value});
    return *this;
}
LayerAttributes& LayerAttributes::setString(const std::string& name, const std::string& value) {
    mEntries.push_back({name, value});
    return *this;
}
LayerAttributes& LayerAttributes::setInts(const std::string& name, const std::vector<int64_t>& values) {
    mEntries.push_back({name, values});
    return *this;
}
LayerAttributes& LayerAttributes::setFloats(const std::string& name, const std::vector<float>& values) {
    mEntries.push_back({name, values});
    return *this;
}

namespace {
Dims toDims(const SymShape& shape) {
    Dims dims;
    dims.nbDims = static_cast<int32_t>(std::min<size_t>(shape.size(), kMaxDims));
    for (int32_t i = 0; i < dims.nbDims; ++i) dims.d[i] = shape[static_cast<size_t>(i)].value;
    return dims;
}
}  // namespace

const char* ITensor::getName() const noexcept { return mValue->name.c_str(); }
void ITensor::setName(const char* name) noexcept {
    if (name && *name) mValue->name = name;
}
DataType ITensor::getType() const noexcept { return mValue->dtype; }
Dims ITensor::getDimensions() const noexcept { return toDims(mValue->shape); }
bool ITensor::isNetworkInput() const noexcept { return mNetwork->graph().isGraphInput(mValue); }
bool ITensor::isNetworkOutput() const noexcept { return mNetwork->graph().isGraphOutput(mValue); }

const char* ILayer::getName() const noexcept { return mNode->name.c_str(); }
void ILayer::setName(const char* name) noexcept {
    if (name && *name) mNode->name = name;
}
const char* ILayer::getType() const noexcept { return mNode->opType.c_str(); }
int32_t ILayer::getNbInputs() const noexcept { return static_cast<int32_t>(mNode->inputs.size()); }
ITensor* ILayer::getInput(int32_t index) const noexcept {
    if (index < 0 || index >= getNbInputs()) return nullptr;
    Value* v = mNode->inputs[static_cast<size_t>(index)];
    return v ? mNetwork->tensorFor(v) : nullptr;
}
int32_t ILayer::getNbOutputs() const noexcept { return static_cast<int32_t>(mNode->outputs.size()); }
ITensor* ILayer::getOutput(int32_t index) const noexcept {
    if (index < 0 || index >= getNbOutputs()) return nullptr;
    Value* v = mNode->outputs[static_cast<size_t>(index)];
    return v ? mNetwork->tensorFor(v) : nullptr;
}

struct NetworkDefinition::Handles {
    std::unordered_map<const Value*, std::unique_ptr<ITensor>> tensors;
    std::unordered_map<const Node*, std::unique_ptr<ILayer>> layers;
};

NetworkDefinition::NetworkDefinition(ILogger& logger)
    : mLogger(logger), mGraph(std::make_unique<Graph>()), mHandles(std::make_unique<Handles>()) {}
NetworkDefinition::~NetworkDefinition() = default;

ITensor* NetworkDefinition::tensorFor(Value* value) const {
    auto& slot = mHandles->tensors[value];
    if (!slot) slot.reset(new ITensor(const_cast<NetworkDefinition*>(this), value));
    return slot.get();
}

ILayer* NetworkDefinition::layerFor(Node* node) const {
    auto& slot = mHandles->layers[node];
    if (!slot) slot.reset(new ILayer(const_cast<NetworkDefinition*>(this), node));
    return slot.get();
}

ITensor* NetworkDefinition::addInput(const char* name, DataType type, const Dims& dims) noexcept {
    Logger log(&mLogger);
    if (!name || !*name || mGraph->findValue(name)) {
        log.error(std::string("addInput: the name '") + (name ? name : "") + "' is empty or already used");
        return nullptr;
    }
    if (dims.nbDims < 0 || dims.nbDims > kMaxDims) {
        log.error(std::string("addInput '") + name + "': rank must be 0.." + std::to_string(kMaxDims));
        return nullptr;
    }
    SymShape shape;
    for (int32_t i = 0; i < dims.nbDims; ++i) {
        if (dims.d[i] >= 0)
            shape.emplace_back(dims.d[i]);
        else
            shape.push_back(Dim::named(std::string(name) + ":" + std::to_string(i)));
    }
    return tensorFor(mGraph->addInput(name, type, std::move(shape)));
}

ITensor* NetworkDefinition::addConstant(const Dims& dims, DataType type, const void* data) noexcept {
    Shape shape;
    for (int32_t i = 0; i < dims.nbDims; ++i) {
        if (dims.d[i] < 0) {
            Logger(&mLogger).error("addConstant: dimensions must be known, got " + dimsToString(dims));
            return nullptr;
        }
        shape.push_back(dims.d[i]);
    }
    Tensor t = Tensor::allocate(type, shape);
    if (t.byteSize() && data) std::memcpy(t.data(), data, t.byteSize());
    return tensorFor(mGraph->addConstant(mGraph->uniqueValueName("constant"), std::move(t)));
}

ILayer* NetworkDefinition::addLayer(const char* opType, const std::vector<ITensor*>& inputs, int32_t nbOutputs,
                                    const LayerAttributes& attributes) noexcept {
    if (!opType || !OpRegistry::global().find("", opType)) {
        Logger(&mLogger).error(std::string("addLayer: Kiln has no operator '") + (opType ? opType : "") + "'");
        return nullptr;
    }
    AttributeMap attrs;
    for (const auto& e : attributes.entries()) attrs.set(e.name, e.value);
    return addInferredLayer(opType, "", inputs, nbOutputs, attrs, std::string("addLayer ") + opType);
}

ILayer* NetworkDefinition::addPluginLayer(const std::vector<ITensor*>& inputs, const char* name, const char* version,
                                          const char* pluginNamespace, const PluginFieldCollection& fields) noexcept {
    Logger log(&mLogger);
    const std::string plugin = describePlugin(name ? name : "", version ? version : "", pluginNamespace ? pluginNamespace : "");
    IPluginCreator* creator = getPluginRegistry().getCreator(name, version, pluginNamespace);
    if (!creator) {
        log.error("addPluginLayer: " + plugin + " is not registered");
        return nullptr;
    }
    Expected<AttributeMap> attrs = pluginNodeAttributes(*creator, fields);
    if (!attrs) {
        log.error("addPluginLayer: " + attrs.status().message());
        return nullptr;
    }
    // The output count comes from the run-time part, made as a loaded engine will make it.
    Expected<PluginFieldCollection> serialized = pluginFieldsOf(*attrs);
    std::string error;
    std::unique_ptr<IPluginRuntime> runtime = serialized ? creator->createRuntimePart(*serialized, &error) : nullptr;
    if (!runtime) {
        log.error("addPluginLayer: " + plugin + " could not create its run-time part: " +
                  (serialized ? error : serialized.status().message()));
        return nullptr;
    }
    return addInferredLayer(name, kPluginDomain, inputs, runtime->getNbOutputs(), *attrs, "addPluginLayer " + plugin);
}

ILayer* NetworkDefinition::addInferredLayer(const std::string& opType, const std::string& domain,
                                            const std::vector<ITensor*>& inputs, int32_t nbOutputs,
                                            const AttributeMap& attrs, const std::string& call) noexcept {
    Logger log(&mLogger);
    if (nbOutputs < 1) {
        log.error(call + ": needs at least one output");
        return nullptr;
    }
    std::vector<Value*> ins;
    for (ITensor* t : inputs) {
        if (t && t->mNetwork != this) {
            log.error(call + ": an input belongs to another network");
            return nullptr;
        }
        ins.push_back(t ? t->mValue : nullptr);
    }
    Node* node = mGraph->addNode(opType, "", std::move(ins), {}, static_cast<size_t>(nbOutputs));
    node->domain = domain;
    node->attrs = attrs;
    node->sourceNodes = {node->name};

    // Infer the new layer's outputs now, as TensorRT does, so getDimensions() answers and a bad
    // layer is refused where it is added rather than at build time.
    std::vector<ValueInfo> infos = annotatedValueInfos(*mGraph);
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    Status inferred = inferNode(*node, infos, options);
    if (!inferred) {
        log.error(call + ": " + inferred.message());
        mGraph->removeNodes([node](const Node& n) { return &n == node; });
        return nullptr;
    }
    for (Value* out : node->outputs) {
        const ValueInfo& info = infos[static_cast<size_t>(out->id)];
        out->dtype = info.dtype;
        out->shape = info.shape;
        out->typeKnown = true;
    }
    return layerFor(node);
}

ILayer* NetworkDefinition::addActivation(ITensor& input, ActivationType type, float alpha, float beta) noexcept {
    LayerAttributes attrs;
    switch (type) {
        case ActivationType::kRELU: return addLayer("Relu", {&input});
        case ActivationType::kSIGMOID: return addLayer("Sigmoid", {&input});
        case ActivationType::kTANH: return addLayer("Tanh", {&input});
        case ActivationType::kGELU_ERF: return addLayer("Gelu", {&input});
        case ActivationType::kLEAKY_RELU: return addLayer("LeakyRelu", {&input}, 1, attrs.setFloat("alpha", alpha));
        case ActivationType::kCLIP: {
            ITensor* lo = addConstant(Dims{}, DataType::kFLOAT, &alpha);
            ITensor* hi = addConstant(Dims{}, DataType::kFLOAT, &beta);
            return addLayer("Clip", {&input, lo, hi});
        }
    }
    return nullptr;
}

ILayer* NetworkDefinition::addElementWise(ITensor& a, ITensor& b, ElementWiseOperation op) noexcept {
    switch (op) {
        case ElementWiseOperation::kSUM: return addLayer("Add", {&a, &b});
        case ElementWiseOperation::kSUB: return addLayer("Sub", {&a, &b});
        case ElementWiseOperation::kPROD: return addLayer("Mul", {&a, &b});
        case ElementWiseOperation::kDIV: return addLayer("Div", {&a, &b});
        case ElementWiseOperation::kPOW: return addLayer("Pow", {&a, &b});
        case ElementWiseOperation::kMAX: return addLayer("Max", {&a, &b});
        case ElementWiseOperation::kMIN: return addLayer("Min", {&a, &b});
    }
    return nullptr;
}

ILayer* NetworkDefinition::addMatrixMultiply(ITensor& a, ITensor& b) noexcept { return addLayer("MatMul", {&a, &b}); }

ILayer* NetworkDefinition::addConvolution(ITensor& input, ITensor& weights, ITensor* bias,
                                          const std::vector<int64_t>& strides, const std::vector<int64_t>& pads,
                                          int64_t group) noexcept {
    LayerAttributes attrs;
    if (!strides.empty()) attrs.setInts("strides", strides);
    if (!pads.empty()) attrs.setInts("pads", pads);
    attrs.setInt("group", group);
    std::vector<ITensor*> ins{&input, &weights};
    if (bias) ins.push_back(bias);
    return addLayer("Conv", ins, 1, attrs);
}

ILayer* NetworkDefinition::addSoftMax(ITensor& input, int64_t axis) noexcept {
    LayerAttributes attrs;
    return addLayer("Softmax", {&input}, 1, attrs.setInt("axis", axis));
}

void NetworkDefinition::markOutput(ITensor& tensor) noexcept {
    if (!mGraph->isGraphOutput(tensor.mValue)) mGraph->markOutput(tensor.mValue);
}

void NetworkDefinition::unmarkOutput(ITensor& tensor) noexcept {
    auto& outs = mGraph->mutableOutputs();
    outs.erase(std::remove(outs.begin(), outs.end(), tensor.mValue), outs.end());
}

int32_t NetworkDefinition::getNbInputs() const noexcept { return static_cast<int32_t>(mGraph->inputs().size()); }
ITensor* NetworkDefinition::getInput(int32_t index) const noexcept {
    if (index < 0 || index >= getNbInputs()) return nullptr;
    return tensorFor(mGraph->inputs()[static_cast<size_t>(index)]);
}
int32_t NetworkDefinition::getNbOutputs() const noexcept { return static_cast<int32_t>(mGraph->outputs().size()); }
ITensor* NetworkDefinition::getOutput(int32_t index) const noexcept {
    if (index < 0 || index >= getNbOutputs()) return nullptr;
    return tensorFor(mGraph->outputs()[static_cast<size_t>(index)]);
}
int32_t NetworkDefinition::getNbLayers() const noexcept { return static_cast<int32_t>(mGraph->nodes().size()); }
ILayer* NetworkDefinition::getLayer(int32_t index) const noexcept {
    if (index < 0 || index >= getNbLayers()) return nullptr;
    return layerFor(mGraph->nodes()[static_cast<size_t>(index)].get());
}
ITensor* NetworkDefinition::getTensor(const char* name) const noexcept {
    Value* v = name ? mGraph->findValue(name) : nullptr;
    return v ? tensorFor(v) : nullptr;
}
const char* NetworkDefinition::getName() const noexcept { return mGraph->name.c_str(); }
void NetworkDefinition::setName(const char* name) noexcept { mGraph->name = name ? name : ""; }

}  // namespace kiln
