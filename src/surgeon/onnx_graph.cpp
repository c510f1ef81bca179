// OnnxGraph: loading, saving and the queries; the edits live in their own files (graph_edits.cpp,
// cleanup.cpp, constant_folder.cpp) and are called through Impl::guarded, the noexcept boundary.

#include <climits>
#include <filesystem>
#include <functional>
#include <unordered_set>

#include "common/file_io.h"
#include "frontend/onnx/model_loader.h"
#include "frontend/onnx/tensor_proto.h"
#include "surgeon/graph_index.h"
#include "surgeon/onnx_graph_impl.h"
#include "surgeon/tensor_proto_writer.h"

namespace kiln::surgeon {

namespace {

/// Calls `visit` on every TensorProto of `graph` that may hold external data: initializers and
/// tensor attributes, in subgraphs too.
void forEachTensor(onnx::GraphProto& graph, const std::function<Status(onnx::TensorProto&)>& visit, Status& status) {
    for (auto& init : *graph.mutable_initializer())
        if (status) status = visit(init);
    for (auto& node : *graph.mutable_node()) {
        for (auto& attr : *node.mutable_attribute()) {
            if (attr.has_t() && status) status = visit(*attr.mutable_t());
            for (auto& tensor : *attr.mutable_tensors())
                if (status) status = visit(tensor);
            if (attr.has_g()) forEachTensor(*attr.mutable_g(), visit, status);
            for (auto& sub : *attr.mutable_graphs()) forEachTensor(sub, visit, status);
        }
    }
}

/// Reads every external-data tensor into the model (raw_data), so that saving elsewhere keeps it.
Status inlineExternalData(onnx::ModelProto& model, const std::string& modelDir) {
    Status status;
    forEachTensor(
        *model.mutable_graph(),
        [&](onnx::TensorProto& proto) -> Status {
            if (proto.data_location() != onnx::TensorProto::EXTERNAL) return Status::ok();
            const std::string name = proto.name();
            KILN_ASSIGN_OR_RETURN(Tensor tensor, onnx_import::tensorFromProto(proto, "tensor '" + name + "'", modelDir));
            writeTensorProto(tensor, name, proto);
            return Status::ok();
        },
        status);
    return status;
}

/// Gives every unnamed node the name "<op type>_<index>" (with a suffix where that is taken), so
/// that every node can be addressed.
void nameUnnamedNodes(onnx::GraphProto& graph) {
    std::unordered_set<std::string> taken;
    for (const auto& node : graph.node()) taken.insert(node.name());
    for (int i = 0; i < graph.node_size(); ++i) {
        onnx::NodeProto& node = *graph.mutable_node(i);
        if (!node.name().empty()) continue;
        const std::string base = node.op_type() + "_" + std::to_string(i);
        std::string name = base;
        for (int suffix = 1; taken.count(name); ++suffix) name = base + "_" + std::to_string(suffix);
        taken.insert(name);
        node.set_name(name);
    }
}

/// What load() and loadFromMemory() share once the bytes are parsed: graph surgery works on
/// models Kiln cannot import too (replacing what it cannot import is the point), so only the
/// ONNX-ness is checked here, not the versions.
Status prepareModel(onnx::ModelProto& model, const std::string& modelDir) {
    if (!model.has_ir_version())
        return invalidModel("it has no IR version (the bytes parse as protobuf, but not as an ONNX model)");
    if (!model.has_graph()) return invalidModel("it has no graph");
    KILN_RETURN_IF_ERROR(inlineExternalData(model, modelDir));
    nameUnnamedNodes(*model.mutable_graph());
    return Status::ok();
}

bool matches(const onnx::NodeProto& node, const NodeQuery& query) {
    auto normalDomain = [](const std::string& domain) { return domain == "ai.onnx" ? std::string() : domain; };
    if (!query.name.empty() && node.name() != query.name) return false;
    if (!query.opType.empty() && node.op_type() != query.opType) return false;
    if (query.domain && normalDomain(*query.domain) != normalDomain(node.domain())) return false;
    return node.name().compare(0, query.namePrefix.size(), query.namePrefix) == 0;
}

}  // namespace

OnnxGraph::OnnxGraph(std::unique_ptr<Impl> impl) : mImpl(std::move(impl)) {}
OnnxGraph::~OnnxGraph() = default;

std::unique_ptr<OnnxGraph> OnnxGraph::load(const char* path, ILogger& logger) noexcept {
    try {
        auto impl = std::make_unique<Impl>(logger);
        const std::string file = path ? path : "";
        const std::string what = "cannot load '" + file + "' for graph surgery";
        const bool ok = impl->guarded(what.c_str(), false, [&]() -> Expected<bool> {
            if (file.empty()) return invalidArgument("no path was given");
            KILN_RETURN_IF_ERROR(onnx_import::readModelFile(file, impl->model));
            const std::filesystem::path parent = std::filesystem::path(file).parent_path();
            KILN_RETURN_IF_ERROR(prepareModel(impl->model, parent.empty() ? std::string(".") : parent.string()));
            return true;
        });
        return ok ? std::unique_ptr<OnnxGraph>(new OnnxGraph(std::move(impl))) : nullptr;
    } catch (...) {
        return nullptr;  // out of memory before the logger could be reached
    }
}

std::unique_ptr<OnnxGraph> OnnxGraph::loadFromMemory(const void* data, size_t size, ILogger& logger,
                                                     const char* modelDir) noexcept {
    try {
        auto impl = std::make_unique<Impl>(logger);
        const bool ok = impl->guarded("cannot load the in-memory model for graph surgery", false, [&]() -> Expected<bool> {
            KILN_RETURN_IF_ERROR(onnx_import::parseModel(data, size, impl->model));
            KILN_RETURN_IF_ERROR(prepareModel(impl->model, modelDir ? modelDir : ""));
            return true;
        });
        return ok ? std::unique_ptr<OnnxGraph>(new OnnxGraph(std::move(impl))) : nullptr;
    } catch (...) {
        return nullptr;  // out of memory before the logger could be reached
    }
}

bool OnnxGraph::serialize(std::string& bytes) const noexcept {
    return mImpl->guarded("cannot serialize the model", false, [&]() -> Expected<bool> {
        const size_t size = mImpl->model.ByteSizeLong();
        if (size > static_cast<size_t>(INT_MAX))
            return unsupported("it is " + std::to_string(size) + " bytes, over protobuf's 2 GB limit");
        std::string out;
        if (!mImpl->model.SerializeToString(&out)) return internalError("protobuf could not serialize it");
        bytes = std::move(out);
        return true;
    });
}

bool OnnxGraph::save(const char* path) const noexcept {
    const std::string file = path ? path : "";
    std::string bytes;
    if (!serialize(bytes)) return false;
    return mImpl->guarded("cannot save the model", false, [&]() -> Expected<bool> {
        if (file.empty()) return invalidArgument("no path was given");
        KILN_RETURN_IF_ERROR(writeFile(file, bytes.data(), bytes.size()));
        return true;
    });
}

std::vector<std::string> OnnxGraph::findNodes(const NodeQuery& query) const noexcept {
    return mImpl->guarded("findNodes", std::vector<std::string>{}, [&]() -> Expected<std::vector<std::string>> {
        std::vector<std::string> names;
        for (const auto& node : mImpl->graph().node())
            if (matches(node, query)) names.push_back(node.name());
        return names;
    });
}

std::optional<NodeInfo> OnnxGraph::node(const std::string& name) const noexcept {
    return mImpl->guarded("node", std::optional<NodeInfo>{}, [&]() -> Expected<std::optional<NodeInfo>> {
        const GraphIndex index(mImpl->graph());
        Expected<int> found = index.findNode(name);
        if (!found) return std::optional<NodeInfo>{};
        const onnx::NodeProto& proto = mImpl->graph().node(*found);
        NodeInfo info{proto.name(), proto.op_type(), proto.domain(), {}, {}, {}};
        info.inputs.assign(proto.input().begin(), proto.input().end());
        info.outputs.assign(proto.output().begin(), proto.output().end());
        for (const auto& attr : proto.attribute()) info.attributeNames.push_back(attr.name());
        return std::optional<NodeInfo>(std::move(info));
    });
}

std::optional<TensorInfo> OnnxGraph::tensor(const std::string& name) const noexcept {
    return mImpl->guarded("tensor", std::optional<TensorInfo>{}, [&]() -> Expected<std::optional<TensorInfo>> {
        const GraphIndex index(mImpl->graph());
        const std::vector<int>& readers = index.consumers(name);
        if (name.empty() || (!index.isDefined(name) && readers.empty() && !index.isGraphOutput(name)))
            return std::optional<TensorInfo>{};
        TensorInfo info;
        info.name = name;
        if (const int producer = index.producer(name); producer >= 0) info.producer = mImpl->graph().node(producer).name();
        for (int reader : readers) info.consumers.push_back(mImpl->graph().node(reader).name());
        info.isInitializer = index.isInitializer(name);
        info.isGraphInput = index.isGraphInput(name);
        info.isGraphOutput = index.isGraphOutput(name);
        return std::optional<TensorInfo>(std::move(info));
    });
}

std::vector<std::string> OnnxGraph::nodeNames() const noexcept { return findNodes({}); }

std::vector<std::string> OnnxGraph::graphInputs() const noexcept {
    return mImpl->guarded("graphInputs", std::vector<std::string>{}, [&]() -> Expected<std::vector<std::string>> {
        std::vector<std::string> names;
        for (const auto& input : mImpl->graph().input()) names.push_back(input.name());
        return names;
    });
}

std::vector<std::string> OnnxGraph::graphOutputs() const noexcept {
    return mImpl->guarded("graphOutputs", std::vector<std::string>{}, [&]() -> Expected<std::vector<std::string>> {
        std::vector<std::string> names;
        for (const auto& output : mImpl->graph().output()) names.push_back(output.name());
        return names;
    });
}

bool OnnxGraph::removeNodes(const std::vector<std::string>& names, bool reconnect) noexcept {
    return mImpl->guarded("removeNodes", false, [&]() -> Expected<bool> {
        KILN_RETURN_IF_ERROR(surgeon::removeNodes(mImpl->graph(), names, reconnect));
        return true;
    });
}

bool OnnxGraph::replaceSubgraph(const std::vector<std::string>& names, const NewNode& node,
                                const ReplaceOptions& options) noexcept {
    return mImpl->guarded("replaceSubgraph", false, [&]() -> Expected<bool> {
        KILN_RETURN_IF_ERROR(surgeon::replaceSubgraph(mImpl->model, names, node, options));
        return true;
    });
}

bool OnnxGraph::insertNode(const NewNode& node) noexcept {
    return mImpl->guarded("insertNode", false, [&]() -> Expected<bool> {
        KILN_RETURN_IF_ERROR(surgeon::insertNode(mImpl->model, node));
        return true;
    });
}

bool OnnxGraph::cleanup(const CleanupOptions& options) noexcept {
    return mImpl->guarded("cleanup", false, [&]() -> Expected<bool> {
        KILN_ASSIGN_OR_RETURN(std::string summary, surgeon::cleanup(mImpl->graph(), options));
        mImpl->log.info("cleanup: " + summary);
        return true;
    });
}

bool OnnxGraph::toposort() noexcept {
    return mImpl->guarded("toposort", false, [&]() -> Expected<bool> {
        KILN_RETURN_IF_ERROR(surgeon::toposort(mImpl->graph()));
        return true;
    });
}

int64_t OnnxGraph::foldConstants(const FoldOptions& options) noexcept {
    return mImpl->guarded("foldConstants", int64_t{-1},
                          [&]() { return surgeon::foldConstants(mImpl->model, options, mImpl->log); });
}

}  // namespace kiln::surgeon
