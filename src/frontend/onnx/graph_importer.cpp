#include "frontend/onnx/graph_importer.h"

#include <exception>

#include "frontend/onnx/attribute_import.h"
#include "frontend/onnx/constant_node.h"
#include "frontend/onnx/container_type_import.h"
#include "frontend/onnx/import_log.h"
#include "frontend/onnx/tensor_proto.h"
#include "ir/control_flow.h"
#include "ir/onnx_types.h"
#include "plugins/plugin_node.h"

namespace kiln::onnx_import {

ImportSession::ImportSession(ILogger* logger, int64_t opset_, std::string modelDir_)
    : log(logger), verbose(log.verboseEnabled()), opset(opset_), modelDir(std::move(modelDir_)) {
    inference.evaluator = &evaluator;
}

void ImportSession::addError(ParserError error, bool logNow) {
    if (logNow) log.error(error.describe());
    errors.push_back(std::move(error));
}

namespace {

std::string normalizedDomain(const std::string& domain) {
    return domain == "ai.onnx" ? std::string() : domain;
}

/// Every value name `graph` mentions, its nested subgraphs included, so that names made up for
/// helper values can avoid them all.
void collectNames(const onnx::GraphProto& graph, std::unordered_set<std::string>& names) {
    for (const auto& v : graph.input()) names.insert(v.name());
    for (const auto& v : graph.output()) names.insert(v.name());
    for (const auto& t : graph.initializer()) names.insert(t.name());
    for (const auto& node : graph.node()) {
        names.insert(node.input().begin(), node.input().end());
        names.insert(node.output().begin(), node.output().end());
        for (const auto& a : node.attribute()) {
            if (a.has_g()) collectNames(a.g(), names);
            for (const auto& g : a.graphs()) collectNames(g, names);
        }
    }
}

/// The dtype and shape a ValueInfoProto declares, and what it is (`container`): a sequence or
/// optional is typed as its handle (ir/value_kind.h). `known` is false when it declares no element
/// type or no shape (allowed for subgraph inputs, whose types the enclosing op determines).
Status declaredType(const onnx::ValueInfoProto& info, DataType& dtype, SymShape& shape, bool& known,
                    ContainerType& container) {
    known = false;
    container = ContainerType{};
    if (!info.has_type() || info.type().value_case() == onnx::TypeProto::VALUE_NOT_SET) return Status::ok();
    const std::string what = "'" + info.name() + "'";
    if (info.type().value_case() != onnx::TypeProto::kTensorType) {
        KILN_ASSIGN_OR_RETURN(container, containerTypeFromProto(info.type(), what));
        dtype = kHandleType;
        shape.clear();
        known = true;
        return Status::ok();
    }
    const onnx::TypeProto::Tensor& tensor = info.type().tensor_type();
    if (!tensor.has_elem_type() || tensor.elem_type() == onnx::TensorProto::UNDEFINED || !tensor.has_shape())
        return Status::ok();
    std::optional<DataType> type = dataTypeFromOnnx(tensor.elem_type());
    if (!type)
        return unsupported(what + " has element type " + onnxTypeName(tensor.elem_type()) + ", which Kiln does not support");
    KILN_ASSIGN_OR_RETURN(shape, shapeFromProto(tensor.shape(), what));
    dtype = *type;
    known = true;
    return Status::ok();
}

/// ONNX omits ("") optional inputs only. Inputs before the schema's minimum count are required,
/// except where an op's leading inputs are optional: in the default domain, Loop's M and cond and
/// the input of Optional / OptionalHasElement. Inference relies on required inputs being there.
Status checkRequiredInputs(const Node& node) {
    if (node.domain.empty() &&
        (node.opType == "Loop" || node.opType == "Optional" || node.opType == "OptionalHasElement"))
        return Status::ok();
    const OpSchema* schema = OpRegistry::global().find(node.domain, node.opType);
    if (!schema) return Status::ok();  // shape inference reports it: it needs the schema too
    for (size_t i = 0; i < schema->minInputs && i < node.inputs.size(); ++i)
        if (!node.inputs[i]) return invalidModel("input " + std::to_string(i) + " is required but omitted");
    return Status::ok();
}

/// The plugin creator for a node Kiln cannot import, chosen by its op type and its attributes
/// plugin_version / plugin_namespace; nullptr when none is registered.
Expected<IPluginCreator*> pluginForNode(const onnx::NodeProto& proto) {
    std::optional<std::string> version;
    std::string pluginNamespace;
    for (const onnx::AttributeProto& a : proto.attribute()) {
        if (a.name() == kOnnxPluginVersionAttr) version = a.s();
        if (a.name() == kOnnxPluginNamespaceAttr) pluginNamespace = a.s();
    }
    return findPluginForOnnxNode(proto.op_type(), version, pluginNamespace);
}

}  // namespace

GraphImporter::GraphImporter(ImportSession& session, Graph& graph, GraphImporter* parent, std::string scope)
    : mSession(session), mGraph(graph), mParent(parent), mScope(std::move(scope)) {}

void GraphImporter::importGraph(onnx::GraphProto& proto) {
    const size_t errorsBefore = mSession.errors.size();
    mGraph.name = proto.name();
    collectNames(proto, mReserved);
    for (int i = 0; i < proto.node_size(); ++i)
        for (const std::string& out : proto.node(i).output())
            if (!out.empty()) mDefinedBy.emplace(out, i);

    importInitializers(proto);
    importInputs(proto);
    for (Value* outer : mPredeclaredCaptures) captureOuter(outer);
    for (int i = 0; i < proto.node_size(); ++i) importNode(i, *proto.mutable_node(i));
    importOutputs(proto);
    // Drops the values of omitted outputs and initializers nothing reads. After a failure the
    // graph is left as it is, for inspection.
    if (mSession.errors.size() == errorsBefore) mGraph.removeUnusedValues();
}

void GraphImporter::importInitializers(onnx::GraphProto& proto) {
    for (onnx::TensorProto& t : *proto.mutable_initializer()) {
        const std::string what = "initializer '" + t.name() + "'";
        if (t.name().empty()) {
            graphError("an initializer has no name");
            continue;
        }
        if (mValues.count(t.name())) {
            graphError(what + " is defined twice");
            continue;
        }
        Expected<Tensor> tensor = tensorFromProto(t, what, mSession.modelDir);
        if (!tensor) {
            graphError(tensor.status().message());
            definePlaceholders({t.name()});
            continue;
        }
        define(mGraph.addConstant(t.name(), std::move(tensor).value()));
    }
    for (const onnx::SparseTensorProto& sparse : proto.sparse_initializer())
        graphError("sparse initializer '" + sparse.values().name() + "' is not supported");
}

void GraphImporter::importInputs(const onnx::GraphProto& proto) {
    for (const onnx::ValueInfoProto& in : proto.input()) {
        if (in.name().empty()) {
            graphError("a graph input has no name");
            continue;
        }
        if (auto it = mValues.find(in.name()); it != mValues.end()) {
            // Models of IR version < 4 list every initializer among the inputs too; the
            // initializer is the value.
            if (!it->second->isConstant()) graphError("graph input '" + in.name() + "' is listed twice");
            continue;
        }
        DataType dtype = DataType::kFLOAT;
        SymShape shape;
        bool known = false;
        ContainerType container;
        Status status = declaredType(in, dtype, shape, known, container);
        if (!known && status && !mParent)
            status =
                invalidModel("'" + in.name() +
                             "' declares no element type or no shape; Kiln needs the type and rank of every input");
        if (!status) {
            // Nodes reading the input find an untyped placeholder, so they are not reported too.
            graphError("graph input " + status.message());
            definePlaceholders({in.name()});
            continue;
        }
        Value* v = mGraph.addInput(in.name(), dtype, std::move(shape));
        v->typeKnown = known;
        v->container = std::move(container);
        define(v);
    }
}

void GraphImporter::importNode(int64_t index, onnx::NodeProto& proto) {
    const NodeRef where{index, proto.name().empty() ? proto.op_type() + "_" + std::to_string(index) : proto.name(),
                        proto.op_type(), normalizedDomain(proto.domain())};
    if (mSession.verbose)
        mSession.log.verbose("Parsing node " + std::to_string(index) + " '" + where.name + "' [" + where.opType + "]");
    std::vector<std::string> outputNames(proto.output().begin(), proto.output().end());

    if (where.domain.empty() && where.opType == "Constant") {
        importConstantNode(where, proto);
        return;
    }
    IPluginCreator* plugin = nullptr;
    if (!isImportable(where.domain, where.opType, mSession.opset)) {
        Expected<IPluginCreator*> found = pluginForNode(proto);
        if (!found) {
            nodeError(where, found.status().message());
            definePlaceholders(outputNames);
            return;
        }
        plugin = *found;
    }
    if (!plugin && !isImportable(where.domain, where.opType, mSession.opset)) {
        std::string description = describeNode(where);
        if (!mScope.empty()) description += " in " + mScope;
        mSession.unsupportedNodes.push_back(description);
        const std::string op = where.domain.empty() ? where.opType : where.domain + "::" + where.opType;
        nodeError(where, "Kiln does not support the operator " + op, /*logNow=*/false);
        definePlaceholders(outputNames);
        return;
    }

    // Every ONNX operator has an output, and inference writes at least output 0.
    if (outputNames.empty()) {
        nodeError(where, "the node has no outputs");
        return;
    }
    const size_t errorsBefore = mSession.errors.size();
    NodeDraft draft;
    draft.opType = where.opType;
    draft.outputNames = outputNames;
    checkOutputNames(where, outputNames);
    for (int i = 0; i < proto.input_size(); ++i)
        draft.inputs.push_back(resolveInput(where, static_cast<size_t>(i), proto.input(i)));
    if (mSession.errors.size() == errorsBefore && importIfWithKnownCondition(where, proto, draft.inputs, outputNames))
        return;
    const SubgraphImport subgraphImport = [this, &where](onnx::GraphProto& g, const std::string& attr) {
        return importSubgraph(g, attr, where);
    };
    mNodeCaptures.clear();
    mNodeSubgraphs.clear();
    Status attrs = importAttributes(proto, mSession.modelDir, subgraphImport, draft.attrs);
    if (!attrs) nodeError(where, attrs.message());
    // The outer values the subgraphs read become the node's trailing inputs (ir/control_flow.h).
    if (!mNodeCaptures.empty()) {
        draft.inputs.insert(draft.inputs.end(), mNodeCaptures.begin(), mNodeCaptures.end());
        draft.attrs.set(kCapturedInputsAttr, static_cast<int64_t>(mNodeCaptures.size()));
    }
    if (mSession.errors.size() > errorsBefore) {
        definePlaceholders(outputNames);
        return;
    }
    if (plugin)
        emitPluginNode(where, draft, *plugin);
    else if (const ContribOp* contrib = findContribOp(where.domain, where.opType))
        expandContribNode(where, draft, contrib->expand);
    else
        emitNode(where, draft);
}

void GraphImporter::importConstantNode(const NodeRef& where, onnx::NodeProto& proto) {
    if (proto.output_size() != 1 || proto.output(0).empty()) {
        nodeError(where, "a Constant needs exactly one named output");
        definePlaceholders({proto.output().begin(), proto.output().end()});
        return;
    }
    if (!checkOutputNames(where, {proto.output(0)})) return;
    Expected<Tensor> value = constantNodeValue(proto, mSession.modelDir);
    if (!value) {
        nodeError(where, value.status().message());
        definePlaceholders({proto.output(0)});
        return;
    }
    Value* v = mGraph.addConstant(proto.output(0), std::move(value).value());
    define(v);
    if (mSession.verbose) mSession.log.verbose(" Registering constant: " + describeValue(*v));
}

void GraphImporter::emitNode(const NodeRef& where, NodeDraft& draft) {
    const std::vector<Value*> onnxInputs = draft.inputs;
    const size_t firstNode = mGraph.nodes().size();
    const size_t firstValue = mGraph.valueCapacity();
    mCurrentNodeName = where.name;
    if (where.domain.empty()) {
        UpgradeContext ctx(draft, where.name, mSession.opset, *this);
        for (const OpsetUpgrade* upgrade : upgradesFor(where.opType, mSession.opset)) {
            Status status = upgrade->apply(ctx);
            if (!status) {
                nodeError(where, status.message());
                definePlaceholders(draft.outputNames);
                return;
            }
        }
    }

    // Omitted outputs keep their positions as nullptr. Even trailing ones stay: the output count
    // can carry meaning (Split-13 without sizes, Loop and Scan against their bodies).
    const size_t numOutputs = draft.outputNames.size();
    std::vector<std::string> names(numOutputs);
    for (size_t i = 0; i < numOutputs; ++i)
        names[i] = draft.outputNames[i].empty() ? freshName(where.name + "_omitted" + std::to_string(i))
                                                : draft.outputNames[i];
    Node* node = mGraph.addNode(draft.opType, where.name, draft.inputs, names, numOutputs);
    node->domain = where.domain;
    node->attrs = std::move(draft.attrs);
    node->sourceNodes = {where.name};
    for (size_t i = 0; i < numOutputs; ++i) {
        if (draft.outputNames[i].empty()) {
            node->outputs[i]->producer = nullptr;
            node->outputs[i] = nullptr;
        } else {
            define(node->outputs[i]);
        }
    }

    if (mSession.verbose) {
        std::vector<Value*> shown = onnxInputs;
        for (size_t id = firstValue; id < mGraph.valueCapacity(); ++id) {
            Value* v = mGraph.valueById(static_cast<int32_t>(id));
            if (v && v->isConstant()) shown.push_back(v);
        }
        mSession.log.verbose(" [" + where.opType + "] inputs: " + describeValues(shown));
    }
    inferNodesSince(firstNode, where);
    if (mSession.verbose) mSession.log.verbose(" [" + where.opType + "] outputs: " + describeValues(node->outputs));
}

void GraphImporter::emitPluginNode(const NodeRef& where, NodeDraft& draft, IPluginCreator& creator) {
    draft.attrs.erase(kOnnxPluginVersionAttr);
    draft.attrs.erase(kOnnxPluginNamespaceAttr);
    Expected<PluginFieldCollection> fields = pluginFieldsOf(draft.attrs);
    Expected<AttributeMap> attrs = fields ? pluginNodeAttributes(creator, *fields) : Expected<AttributeMap>(fields.status());
    if (!attrs) {
        nodeError(where, attrs.status().message());
        definePlaceholders(draft.outputNames);
        return;
    }
    draft.attrs = std::move(attrs).value();
    mSession.log.info("node '" + where.name + "' (" + where.opType + ") is imported as " +
                      describePlugin(creator.getPluginName(), creator.getPluginVersion(), creator.getPluginNamespace()));
    NodeRef pluginWhere = where;
    pluginWhere.domain = kPluginDomain;
    emitNode(pluginWhere, draft);
}

void GraphImporter::inferNodesSince(size_t firstNode, const NodeRef& where) {
    for (size_t i = firstNode; i < mGraph.nodes().size(); ++i) {
        Node& irNode = *mGraph.nodes()[i];
        if (mSession.verbose) mSession.log.verbose(" Registering layer: " + irNode.name + " [" + irNode.opType + "]");
        inferImportedNode(irNode, where);
    }
}

void GraphImporter::expandContribNode(const NodeRef& where, const NodeDraft& draft, ContribExpansion expansion) {
    // An input of unknown type comes from a node that failed already (and said so): the expansion,
    // which reads input shapes, would only add a second error.
    for (const Value* in : draft.inputs)
        if (in && !knownInfo(in)) {
            definePlaceholders(draft.outputNames);
            return;
        }
    const size_t firstNode = mGraph.nodes().size();
    mCurrentNodeName = where.name;
    mExpansionOpCounts.clear();
    if (mSession.verbose) mSession.log.verbose(" [" + where.opType + "] inputs: " + describeValues(draft.inputs));
    ExpansionContext ctx(draft, *this);
    Status status = expansion(ctx);
    for (const std::string& name : draft.outputNames)
        if (status && !name.empty() && !mValues.count(name))
            status = internalError("the expansion of " + where.domain + "::" + where.opType + " left output '" + name + "' undefined");
    if (!status) {
        nodeError(where, status.message());
        definePlaceholders(draft.outputNames);
        return;
    }
    inferNodesSince(firstNode, where);
}

void GraphImporter::inferImportedNode(Node& node, const NodeRef& where) {
    if (mInfos.size() < mGraph.valueCapacity()) mInfos.resize(mGraph.valueCapacity());
    Status status = checkRequiredInputs(node);
    if (status) {
        // An input of unknown type comes from a node that already failed (and said so) or, in a
        // subgraph, from an untyped formal input that only the enclosing op can type.
        for (const Value* in : node.inputs)
            if (in && !mInfos[static_cast<size_t>(in->id)].known) return;
        try {
            status = inferNode(node, mInfos, mSession.inference);
        } catch (const std::exception& e) {
            status = internalError(std::string("shape inference threw: ") + e.what());
        }
    }
    if (!status) {
        std::string message = status.message();
        const std::string prefix = node.describe() + ": ";
        if (message.compare(0, prefix.size(), prefix) == 0) message.erase(0, prefix.size());
        if (node.name != where.name) message = "its " + node.opType + " part '" + node.name + "': " + message;
        nodeError(where, message);
        return;
    }
    for (Value* out : node.outputs) {
        if (!out) continue;
        const ValueInfo& info = mInfos[static_cast<size_t>(out->id)];
        out->dtype = info.dtype;
        out->shape = info.shape;
        out->typeKnown = true;
        out->container = info.container;
    }
}

void GraphImporter::importOutputs(const onnx::GraphProto& proto) {
    for (const onnx::ValueInfoProto& out : proto.output()) {
        Value* v = out.name().empty() ? nullptr : resolve(out.name());
        if (!v) {
            graphError("graph output '" + out.name() + "' is not produced by any node, initializer or input");
            continue;
        }
        mGraph.markOutput(v);
        DataType declared = DataType::kFLOAT;
        SymShape shape;
        bool known = false;
        ContainerType container;
        if (declaredType(out, declared, shape, known, container) && known && v->typeKnown &&
            container.isTensor() != v->container.isTensor())
            graphError("graph output '" + out.name() + "' is declared " + containerTypeName(container) + " but computes " +
                       (v->container.isTensor() ? std::string("a tensor") : containerTypeName(v->container)));
        else if (known && v->typeKnown && container.isTensor() && declared != v->dtype)
            mSession.log.warning(scoped("graph output '" + out.name() + "' is declared " + dataTypeName(declared) +
                                        " but computes " + dataTypeName(v->dtype) + "; Kiln uses " +
                                        dataTypeName(v->dtype)));
    }
}

Value* GraphImporter::resolveInput(const NodeRef& where, size_t position, const std::string& name) {
    if (name.empty()) return nullptr;
    if (Value* v = resolve(name)) return v;
    const std::string input = "input " + std::to_string(position) + " '" + name + "'";
    auto later = mDefinedBy.find(name);
    if (later != mDefinedBy.end() && later->second > where.index)
        nodeError(where, input + " is produced only by the later node " + std::to_string(later->second) +
                             "; ONNX requires nodes in topological order");
    else
        nodeError(where, input + " is not defined by any node, initializer or graph input");
    return nullptr;
}

bool GraphImporter::checkOutputNames(const NodeRef& where, const std::vector<std::string>& names) {
    bool ok = true;
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i].empty()) continue;
        std::string previous;
        if (auto it = mValues.find(names[i]); it != mValues.end()) previous = definitionOf(*it->second);
        for (size_t j = 0; j < i && previous.empty(); ++j)
            if (names[j] == names[i]) previous = "this node's output " + std::to_string(j);
        if (previous.empty()) continue;
        nodeError(where, "output " + std::to_string(i) + " '" + names[i] + "' is already defined by " + previous);
        ok = false;
    }
    return ok;
}

void GraphImporter::definePlaceholders(const std::vector<std::string>& names) {
    for (const std::string& name : names)
        if (!name.empty() && !mValues.count(name)) define(mGraph.addValue(name));
}

void GraphImporter::define(Value* value) {
    mValues[value->name] = value;
    recordInfo(*value);
}

void GraphImporter::recordInfo(const Value& value) {
    if (mInfos.size() < mGraph.valueCapacity()) mInfos.resize(mGraph.valueCapacity());
    ValueInfo& info = mInfos[static_cast<size_t>(value.id)];
    info.dtype = value.dtype;
    info.shape = value.shape;
    info.known = value.typeKnown;
    info.container = value.container;
    if (value.isConstant()) info.value = *value.constant;
}

std::string GraphImporter::freshName(const std::string& base) {
    std::string candidate = base;
    for (int64_t n = 1; mReserved.count(candidate) || mValues.count(candidate) || mFresh.count(candidate); ++n)
        candidate = base + "_" + std::to_string(n);
    mFresh.insert(candidate);
    return candidate;
}

std::string GraphImporter::definitionOf(const Value& value) const {
    if (value.producer) return value.producer->describe();
    if (value.isConstant()) return "an initializer or Constant";
    if (mGraph.isGraphInput(&value)) return "a graph input";
    return "an earlier node";
}

Value* GraphImporter::addHelperConstant(const std::string& baseName, Tensor tensor) {
    Value* v = mGraph.addConstant(freshName(baseName), std::move(tensor));
    recordInfo(*v);
    return v;
}

Value* GraphImporter::addHelperNode(const std::string& opType, const std::string& nodeName, std::vector<Value*> inputs,
                                    AttributeMap attrs) {
    Node* node = mGraph.addNode(opType, nodeName, std::move(inputs), {freshName(nodeName)}, 1);
    node->attrs = std::move(attrs);
    node->sourceNodes = {mCurrentNodeName};
    recordInfo(*node->outputs[0]);
    return node->outputs[0];
}

std::vector<Value*> GraphImporter::addExpansionNode(const std::string& opType, std::vector<Value*> inputs,
                                                    AttributeMap attrs, const std::vector<std::string>& outputNames) {
    std::vector<std::string> names;
    for (const std::string& name : outputNames) names.push_back(name.empty() ? freshName(mCurrentNodeName + "_" + opType) : name);
    // Layer names stay unique (reports and profiles key on them): "Attention_0/Add", "Attention_0/Add_2", ...
    const int count = ++mExpansionOpCounts[opType];
    const std::string nodeName = mCurrentNodeName + "/" + opType + (count > 1 ? "_" + std::to_string(count) : "");
    Node* node = mGraph.addNode(opType, nodeName, std::move(inputs), names, names.size());
    node->attrs = std::move(attrs);
    node->sourceNodes = {mCurrentNodeName};
    for (Value* out : node->outputs) define(out);
    return node->outputs;
}

const ValueInfo* GraphImporter::knownInfo(const Value* value) const {
    const size_t id = static_cast<size_t>(value->id);
    return id < mInfos.size() && mInfos[id].known ? &mInfos[id] : nullptr;
}

std::string GraphImporter::describeNode(const NodeRef& where) {
    return "node " + std::to_string(where.index) + " '" + where.name + "' (" +
           (where.domain.empty() ? "" : where.domain + "::") + where.opType + ")";
}

std::string GraphImporter::scoped(const std::string& message) const {
    return mScope.empty() ? message : "in " + mScope + ": " + message;
}

void GraphImporter::nodeError(const NodeRef& where, const std::string& message, bool logNow) {
    mSession.addError({where.index, where.name, where.opType, scoped(message)}, logNow);
}

void GraphImporter::graphError(const std::string& message) {
    mSession.addError({-1, "", "", scoped(message)});
}

void importModelGraph(onnx::GraphProto& proto, Graph& graph, ImportSession& session) {
    GraphImporter importer(session, graph, nullptr, "");
    importer.importGraph(proto);
    const std::vector<std::string>& unsupportedNodes = session.unsupportedNodes;
    if (!unsupportedNodes.empty()) {
        std::string message = std::to_string(unsupportedNodes.size()) +
                              (unsupportedNodes.size() == 1 ? " node uses an operator" : " nodes use operators") +
                              " Kiln does not support: ";
        for (size_t i = 0; i < unsupportedNodes.size(); ++i) message += (i ? ", " : "") + unsupportedNodes[i];
        session.log.error(message);
    }
    if (session.errors.empty()) session.log.info(importSummary(graph, proto.node_size(), session.opset));
}

}  // namespace kiln::onnx_import
