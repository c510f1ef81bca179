// kiln.surgeon: graph surgery on ONNX models (kiln/graph_surgeon.h) from Python. A failed edit raises
// RuntimeError with the message the library logged; queries for names the graph lacks return None.
//
//     graph = kiln.surgeon.OnnxGraph.load("ssd.onnx")
//     graph.replace_subgraph(graph.find_nodes(name_prefix="MultipleGridAnchorGenerator/"), "GridAnchor",
//                            "GridAnchor_TRT", attributes={"numLayers": 6})
//     graph.cleanup(); graph.toposort(); graph.save("ssd_plugins.onnx")

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/graph_surgeon.h"

namespace kiln::python {

namespace {

using surgeon::OnnxGraph;

/// Keeps the latest error for the exception, and passes every message on to the user's logger.
class RaisingLogger : public ILogger {
public:
    void log(Severity severity, const char* message) noexcept override {
        if (severity <= Severity::kERROR) lastError = message;
        if (target) target->log(severity, message);
    }
    ILogger* target{nullptr};
    std::string lastError;
};

/// An OnnxGraph with the logger it reports to (which must outlive it) and the Python logger behind that.
class PyOnnxGraph {
public:
    explicit PyOnnxGraph(py::object logger) : mPyLogger(std::move(logger)), mLogger(std::make_unique<RaisingLogger>()) {
        if (!mPyLogger.is_none()) mLogger->target = mPyLogger.cast<ILogger*>();
    }

    static std::unique_ptr<PyOnnxGraph> load(const std::string& path, py::object logger) {
        auto out = std::make_unique<PyOnnxGraph>(std::move(logger));
        out->mGraph = OnnxGraph::load(path.c_str(), *out->mLogger);
        out->check(out->mGraph != nullptr);
        return out;
    }

    static std::unique_ptr<PyOnnxGraph> fromBytes(const py::bytes& data, std::optional<std::string> modelDir,
                                                  py::object logger) {
        auto out = std::make_unique<PyOnnxGraph>(std::move(logger));
        const std::string bytes(data);
        out->mGraph = OnnxGraph::loadFromMemory(bytes.data(), bytes.size(), *out->mLogger,
                                                modelDir ? modelDir->c_str() : nullptr);
        out->check(out->mGraph != nullptr);
        return out;
    }

    OnnxGraph& graph() { return *mGraph; }

    /// Raises RuntimeError with the logged reason when `ok` is false.
    void check(bool ok) {
        if (ok) return;
        std::string message = mLogger->lastError.empty() ? "the graph-surgery call failed" : mLogger->lastError;
        mLogger->lastError.clear();
        throw std::runtime_error(message);
    }

private:
    py::object mPyLogger;
    std::unique_ptr<RaisingLogger> mLogger;
    std::unique_ptr<OnnxGraph> mGraph;
};

surgeon::NewNode newNode(const std::string& name, const std::string& opType, const std::string& domain,
                         const py::dict& attributes, std::vector<std::string> inputs, std::vector<std::string> outputs) {
    return {name, opType, domain, toAttributes(attributes), std::move(inputs), std::move(outputs)};
}

}  // namespace

void bindSurgeon(py::module_& parent) {
    py::module_ m = parent.def_submodule("surgeon", "Graph surgery on ONNX models: find, replace, remove, fold, sort, save");

    py::class_<PyOnnxGraph>(m, "OnnxGraph",
                            "An ONNX model loaded for editing. External data is read in at load; save() writes every "
                            "weight into the one .onnx file. Unnamed nodes get the name '<op type>_<index>'.")
        .def_static("load", &PyOnnxGraph::load, py::arg("path"), py::arg("logger") = py::none(),
                    "Reads an ONNX file (external data relative to its folder); RuntimeError when it cannot")
        .def_static("from_bytes", &PyOnnxGraph::fromBytes, py::arg("data"), py::arg("model_dir") = py::none(),
                    py::arg("logger") = py::none(), "Parses a serialized model; model_dir locates external data")
        .def(
            "save", [](PyOnnxGraph& g, const std::string& path) { g.check(g.graph().save(path.c_str())); },
            py::arg("path"))
        .def("serialize",
             [](PyOnnxGraph& g) {
                 std::string bytes;
                 g.check(g.graph().serialize(bytes));
                 return py::bytes(bytes);
             })
        .def(
            "find_nodes",
            [](PyOnnxGraph& g, const std::string& name, const std::string& opType, std::optional<std::string> domain,
               const std::string& namePrefix) {
                return g.graph().findNodes({name, opType, std::move(domain), namePrefix});
            },
            py::arg("name") = "", py::arg("op_type") = "", py::arg("domain") = py::none(), py::arg("name_prefix") = "",
            "Names of the nodes matching every given criterion, in graph order")
        .def(
            "node",
            [](PyOnnxGraph& g, const std::string& name) -> py::object {
                auto info = g.graph().node(name);
                if (!info) return py::none();
                py::dict d;
                d["name"] = info->name;
                d["op_type"] = info->opType;
                d["domain"] = info->domain;
                d["inputs"] = info->inputs;
                d["outputs"] = info->outputs;
                d["attribute_names"] = info->attributeNames;
                return d;
            },
            py::arg("name"), "The node as a dict (name, op_type, domain, inputs, outputs, attribute_names), or None")
        .def(
            "tensor",
            [](PyOnnxGraph& g, const std::string& name) -> py::object {
                auto info = g.graph().tensor(name);
                if (!info) return py::none();
                py::dict d;
                d["name"] = info->name;
                d["producer"] = info->producer.empty() ? py::object(py::none()) : py::str(info->producer);
                d["consumers"] = info->consumers;
                d["is_initializer"] = info->isInitializer;
                d["is_graph_input"] = info->isGraphInput;
                d["is_graph_output"] = info->isGraphOutput;
                return d;
            },
            py::arg("name"),
            "The tensor as a dict (name, producer, consumers, is_initializer, is_graph_input, is_graph_output), or None")
        .def_property_readonly("node_names", [](PyOnnxGraph& g) { return g.graph().nodeNames(); })
        .def_property_readonly("inputs", [](PyOnnxGraph& g) { return g.graph().graphInputs(); })
        .def_property_readonly("outputs", [](PyOnnxGraph& g) { return g.graph().graphOutputs(); })
        .def(
            "remove_nodes",
            [](PyOnnxGraph& g, const std::vector<std::string>& names, bool reconnect) {
                g.check(g.graph().removeNodes(names, reconnect));
            },
            py::arg("names"), py::arg("reconnect") = false)
        .def(
            "replace_subgraph",
            [](PyOnnxGraph& g, const std::vector<std::string>& names, const std::string& name, const std::string& opType,
               const std::string& domain, const py::dict& attributes, std::vector<std::string> inputs,
               std::vector<std::string> outputs, bool initializerInputs) {
                g.check(g.graph().replaceSubgraph(
                    names, newNode(name, opType, domain, attributes, std::move(inputs), std::move(outputs)),
                    {initializerInputs}));
            },
            py::arg("names"), py::arg("name"), py::arg("op_type"), py::arg("domain") = "",
            py::arg("attributes") = py::dict(), py::arg("inputs") = std::vector<std::string>{},
            py::arg("outputs") = std::vector<std::string>{}, py::arg("initializer_inputs") = true,
            "Replaces the named nodes by one new node; empty inputs / outputs mean the subgraph's boundary")
        .def(
            "insert_node",
            [](PyOnnxGraph& g, const std::string& name, const std::string& opType, std::vector<std::string> inputs,
               std::vector<std::string> outputs, const std::string& domain, const py::dict& attributes) {
                g.check(g.graph().insertNode(
                    newNode(name, opType, domain, attributes, std::move(inputs), std::move(outputs))));
            },
            py::arg("name"), py::arg("op_type"), py::arg("inputs"), py::arg("outputs"), py::arg("domain") = "",
            py::arg("attributes") = py::dict())
        .def(
            "cleanup",
            [](PyOnnxGraph& g, bool removeUnusedInputs) { g.check(g.graph().cleanup({removeUnusedInputs})); },
            py::arg("remove_unused_inputs") = false)
        .def("toposort", [](PyOnnxGraph& g) { g.check(g.graph().toposort()); })
        .def(
            "fold_constants",
            [](PyOnnxGraph& g, size_t maxTensorBytes) {
                const int64_t folded = g.graph().foldConstants({maxTensorBytes});
                g.check(folded >= 0);
                return folded;
            },
            py::arg("max_tensor_bytes") = 0, "Folds constant nodes with Kiln's CPU kernels; returns how many folded");
}

}  // namespace kiln::python
