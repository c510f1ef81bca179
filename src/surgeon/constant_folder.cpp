// foldConstants(): the constant part of the model goes through Kiln's own importer (opset upgrades,
// contrib expansions) into an IR graph, whose nodes the CPU backend's kernels evaluate, the same
// evaluator as the builder's constant folding (one evaluator, no second implementation to drift).
// The values come back into the ONNX graph as initializers.

#include <unordered_map>
#include <unordered_set>

#include "backends/cpu/cpu_backend.h"
#include "frontend/onnx/graph_importer.h"
#include "frontend/onnx/model_loader.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "ir/shape_inference.h"
#include "passes/constant_folding.h"
#include "passes/shape_folding.h"
#include "surgeon/graph_index.h"
#include "surgeon/onnx_graph_impl.h"
#include "surgeon/tensor_proto_writer.h"
#include "surgeon/topological_order.h"

namespace kiln::surgeon {

namespace {

/// The importer reports problems with the constant part (an operator Kiln lacks, ...) as errors;
/// for folding they only mean "this node stays", so they reach the user's logger as verbose lines.
class FoldingImportLogger : public ILogger {
public:
    explicit FoldingImportLogger(const Logger& target) : mTarget(target) {}
    void log(Severity, const char* message) noexcept override {
        try {
            mTarget.verbose(std::string("constant folding, import of the constant nodes: ") + message);
        } catch (...) {
            // Dropping a verbose line is harmless.
        }
    }

private:
    const Logger& mTarget;
};

/// The declared type of each tensor whose type the model states (graph inputs, value_info, outputs).
std::unordered_map<std::string, const onnx::ValueInfoProto*> declaredTypes(const onnx::GraphProto& graph) {
    std::unordered_map<std::string, const onnx::ValueInfoProto*> types;
    auto note = [&](const onnx::ValueInfoProto& info) {
        if (info.type().tensor_type().has_shape()) types.emplace(info.name(), &info);
    };
    for (const auto& info : graph.input()) note(info);
    for (const auto& info : graph.value_info()) note(info);
    for (const auto& info : graph.output()) note(info);
    return types;
}

/// A Shape or Size node reads only its input's shape, which the model may declare statically.
bool readsOnlyShape(const onnx::NodeProto& node) {
    return (node.domain().empty() || node.domain() == "ai.onnx") && (node.op_type() == "Shape" || node.op_type() == "Size");
}

/// The nodes worth importing for folding, in a valid order: those whose inputs are all constant,
/// transitively, and Shape / Size of a tensor whose shape is declared (whether its extents are
/// static is for Kiln's shape inference to find out). Nodes with subgraphs stay out: a body may
/// read tensors of the enclosing graph that are not constant. Random generators come in and stay
/// unevaluated, as their schemas say (OpSchema::foldable), and so do their readers.
Expected<std::vector<int>> constantNodes(const onnx::GraphProto& graph, const GraphIndex& index,
                                         const std::unordered_map<std::string, const onnx::ValueInfoProto*>& types) {
    std::vector<OrderedNode> nodes;
    std::unordered_set<std::string> external;
    for (const auto& init : graph.initializer()) external.insert(init.name());
    for (const auto& input : graph.input()) external.insert(input.name());
    for (int i = 0; i < graph.node_size(); ++i) nodes.push_back({graph.node(i).name(), index.reads(i), index.writes(i)});
    KILN_ASSIGN_OR_RETURN(std::vector<size_t> order, stableTopologicalOrder(nodes, external));
    std::unordered_set<std::string> constant;
    std::vector<int> out;
    for (size_t position : order) {
        const int i = static_cast<int>(position);
        const onnx::NodeProto& node = graph.node(i);
        bool candidate = true;
        for (const auto& attr : node.attribute()) candidate = candidate && !attr.has_g() && attr.graphs_size() == 0;
        for (const std::string& input : index.reads(i))
            candidate = candidate && (index.isConstantInitializer(input) || constant.count(input) ||
                                      (readsOnlyShape(node) && types.count(input)));
        if (!candidate) continue;
        out.push_back(i);
        for (const std::string& output : index.writes(i)) constant.insert(output);
    }
    return out;
}

/// A model holding only `nodes` (in order), the initializers they read, the other tensors they
/// read (a Shape's input) as graph inputs of their declared types, and every output they write as
/// a graph output, so that the import keeps each value.
onnx::ModelProto constantSubmodel(const onnx::ModelProto& model, const GraphIndex& index, const std::vector<int>& nodes,
                                  const std::unordered_map<std::string, const onnx::ValueInfoProto*>& types) {
    onnx::ModelProto sub;
    sub.set_ir_version(model.ir_version());
    *sub.mutable_opset_import() = model.opset_import();
    onnx::GraphProto& graph = *sub.mutable_graph();
    graph.set_name("constant_part");
    std::unordered_set<std::string> reads;
    std::unordered_set<std::string> written;
    for (int i : nodes) {
        *graph.add_node() = model.graph().node(i);
        for (const std::string& tensor : index.reads(i)) reads.insert(tensor);
        for (const std::string& tensor : index.writes(i)) {
            graph.add_output()->set_name(tensor);
            written.insert(tensor);
        }
    }
    for (const auto& init : model.graph().initializer())
        if (reads.count(init.name()) && index.isConstantInitializer(init.name())) *graph.add_initializer() = init;
    for (const std::string& tensor : reads)
        if (!written.count(tensor) && !index.isConstantInitializer(tensor)) *graph.add_input() = *types.at(tensor);
    return sub;
}

/// Evaluates every IR node whose inputs are constants, in order, with the CPU kernels. A node that
/// cannot be evaluated (no kernel, an output larger than `maxBytes`) stays; its readers then do too.
void evaluateConstants(Graph& graph, size_t maxBytes, const Logger& log) {
    const CpuNodeEvaluator evaluator;
    for (const auto& node : graph.nodes()) {
        const OpSchema* schema = OpRegistry::global().find(node->domain, node->opType);
        if (!schema || !schema->foldable) continue;
        std::vector<const Tensor*> inputs;
        bool allConstant = true;
        for (const Value* in : node->inputs) {
            allConstant = allConstant && (!in || in->isConstant());
            inputs.push_back(in && in->isConstant() ? &*in->constant : nullptr);
        }
        std::vector<ValueInfo> outputs;
        size_t outputBytes = 0;
        for (const Value* out : node->outputs) {
            ValueInfo info = out ? recordedInfo(*out) : ValueInfo{};
            outputBytes += knownByteSize(info).value_or(0);
            outputs.push_back(std::move(info));
        }
        if (!allConstant || (maxBytes && outputBytes > maxBytes)) continue;
        Expected<std::vector<Tensor>> values = evaluator.evaluate(*node, inputs, outputs);
        if (!values) {
            log.verbose("constant folding: " + node->describe() + " stays: " + values.status().message());
            continue;
        }
        replaceNodeByConstants(graph, *node, std::move(values).value());
    }
}

}  // namespace

Expected<int64_t> foldConstants(onnx::ModelProto& model, const FoldOptions& options, const Logger& log) {
    onnx::GraphProto& graph = *model.mutable_graph();
    const GraphIndex index(graph);
    const auto types = declaredTypes(graph);
    KILN_ASSIGN_OR_RETURN(std::vector<int> candidates, constantNodes(graph, index, types));
    if (candidates.empty()) return int64_t{0};

    onnx::ModelProto sub = constantSubmodel(model, index, candidates, types);
    Expected<int64_t> opset = onnx_import::checkModel(sub);
    if (!opset) return opset.status().withContext("Kiln cannot import the model's constant nodes");
    FoldingImportLogger importLogger(log);
    Graph ir;
    // External data was read in at load, so the constant part needs no folder.
    onnx_import::ImportSession session(&importLogger, *opset, "");
    onnx_import::importModelGraph(*sub.mutable_graph(), ir, session);
    // Shape folding first: values that follow from static shapes (Shape -> Gather -> Concat chains);
    // then every node whose inputs are constants by now.
    PassContext context{log, &session.evaluator, {}};
    if (Expected<bool> shapes = ShapeFolding().run(ir, context); !shapes)
        log.verbose("constant folding: shape folding stopped: " + shapes.status().message());
    evaluateConstants(ir, options.maxTensorBytes, log);

    // A node folds when every output it writes came out constant, within the size limit.
    std::unordered_set<int> folded;
    std::unordered_map<std::string, const Tensor*> values;
    for (int i : candidates) {
        size_t bytes = 0;
        bool allConstant = true;
        for (const std::string& tensor : index.writes(i)) {
            const Value* value = ir.findValue(tensor);
            allConstant = allConstant && value && value->isConstant();
            if (!allConstant) break;
            bytes += value->constant->byteSize();
            values[tensor] = &*value->constant;
        }
        if (allConstant && (!options.maxTensorBytes || bytes <= options.maxTensorBytes)) folded.insert(i);
    }
    // Folded tensors that the rest of the graph reads, or that are graph outputs, become initializers.
    std::vector<onnx::TensorProto> initializers;
    for (int i : candidates) {
        if (!folded.count(i)) continue;
        for (const std::string& tensor : index.writes(i)) {
            bool neededOutside = index.isGraphOutput(tensor);
            for (int reader : index.consumers(tensor)) neededOutside = neededOutside || !folded.count(reader);
            if (!neededOutside) continue;
            writeTensorProto(*values.at(tensor), tensor, initializers.emplace_back());
        }
    }

    int position = 0;
    auto& nodes = *graph.mutable_node();
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    for (auto& node : nodes)
        if (!folded.count(position++)) kept.Add()->Swap(&node);
    nodes.Swap(&kept);
    for (onnx::TensorProto& init : initializers) graph.add_initializer()->Swap(&init);
    log.info("constant folding: folded " + std::to_string(folded.size()) + " nodes into " +
             std::to_string(initializers.size()) + " initializers");
    return static_cast<int64_t>(folded.size());
}

}  // namespace kiln::surgeon
