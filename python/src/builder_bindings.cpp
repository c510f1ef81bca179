// Building: Builder, NetworkDefinition (with its ITensor and ILayer handles), OnnxParser, BuilderConfig
// and OptimizationProfile. Objects that keep a reference to another (a parser to its network and
// logger, a builder to its logger) keep it alive on the Python side too (py::keep_alive). A build
// releases the GIL; the serialized engine comes back as bytes.

#include <memory>
#include <string>

#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/builder.h"
#include "kiln/network.h"
#include "kiln/parser.h"

namespace kiln::python {

namespace {

std::string readBytes(const py::bytes& data) {
    return std::string(data);
}

DataType kilnType(const py::dtype& dtype) {
    for (DataType t : {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT8, DataType::kUINT8,
                       DataType::kINT16, DataType::kUINT16, DataType::kINT32, DataType::kUINT32, DataType::kINT64,
                       DataType::kUINT64, DataType::kBOOL})
        if (numpyType(t).is(dtype)) return t;
    throw py::type_error("Kiln has no element type for NumPy's " + py::str(py::handle(dtype)).cast<std::string>());
}

}  // namespace

LayerAttributes toAttributes(const py::dict& attrs) {
    LayerAttributes out;
    for (const auto& [key, value] : attrs) {
        const std::string name = py::str(key);
        if (py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value)) {
            out.setInt(name, value.cast<int64_t>());
        } else if (py::isinstance<py::float_>(value)) {
            out.setFloat(name, value.cast<float>());
        } else if (py::isinstance<py::str>(value)) {
            out.setString(name, value.cast<std::string>());
        } else if (py::isinstance<py::sequence>(value)) {
            const py::sequence items = value.cast<py::sequence>();
            bool allInts = true;
            for (const auto& item : items) allInts = allInts && py::isinstance<py::int_>(item);
            if (allInts)
                out.setInts(name, items.cast<std::vector<int64_t>>());
            else
                out.setFloats(name, items.cast<std::vector<float>>());
        } else {
            throw py::type_error("attribute '" + name + "' must be an int, float, str or a list of ints or floats");
        }
    }
    return out;
}

void bindBuilder(py::module_& m) {
    py::class_<ITensor, std::unique_ptr<ITensor, py::nodelete>>(m, "ITensor", "A tensor of a network (owned by it)")
        .def_property("name", &ITensor::getName, &ITensor::setName)
        .def_property_readonly("dtype", &ITensor::getType)
        .def_property_readonly("shape", [](const ITensor& t) { return toTuple(t.getDimensions()); })
        .def_property_readonly("is_network_input", &ITensor::isNetworkInput)
        .def_property_readonly("is_network_output", &ITensor::isNetworkOutput);

    py::class_<ILayer, std::unique_ptr<ILayer, py::nodelete>>(m, "ILayer", "A layer of a network (owned by it)")
        .def_property("name", &ILayer::getName, &ILayer::setName)
        .def_property_readonly("type", &ILayer::getType)
        .def_property_readonly("num_inputs", &ILayer::getNbInputs)
        .def_property_readonly("num_outputs", &ILayer::getNbOutputs)
        .def("get_input", &ILayer::getInput, py::arg("index"), py::return_value_policy::reference_internal)
        .def("get_output", &ILayer::getOutput, py::arg("index"), py::return_value_policy::reference_internal);

    auto network = py::class_<NetworkDefinition>(m, "NetworkDefinition",
                                                 "A network: what the parser fills and the builder builds")
        .def_property("name", &NetworkDefinition::getName, &NetworkDefinition::setName)
        .def_property_readonly("num_inputs", &NetworkDefinition::getNbInputs)
        .def_property_readonly("num_outputs", &NetworkDefinition::getNbOutputs)
        .def_property_readonly("num_layers", &NetworkDefinition::getNbLayers)
        .def("get_input", &NetworkDefinition::getInput, py::arg("index"), py::return_value_policy::reference_internal)
        .def("get_output", &NetworkDefinition::getOutput, py::arg("index"), py::return_value_policy::reference_internal)
        .def("get_layer", &NetworkDefinition::getLayer, py::arg("index"), py::return_value_policy::reference_internal)
        .def("get_tensor", &NetworkDefinition::getTensor, py::arg("name"), py::return_value_policy::reference_internal)
        .def("add_input",
             [](NetworkDefinition& n, const std::string& name, DataType type, const py::sequence& shape) {
                 return n.addInput(name.c_str(), type, toDims(shape));
             },
             py::arg("name"), py::arg("dtype"), py::arg("shape"), py::return_value_policy::reference_internal)
        .def("add_constant",
             [](NetworkDefinition& n, const py::array& values) {
                 const py::array data = py::array::ensure(values, py::array::c_style);
                 Dims dims;
                 dims.nbDims = static_cast<int32_t>(data.ndim());
                 for (int32_t d = 0; d < dims.nbDims; ++d) dims.d[d] = data.shape(d);
                 return n.addConstant(dims, kilnType(data.dtype()), data.data());  // copied
             },
             py::arg("values"), py::return_value_policy::reference_internal, "A constant holding a copy of the array")
        .def("add_layer",
             [](NetworkDefinition& n, const std::string& opType, const std::vector<ITensor*>& inputs, int32_t outputs,
                const py::dict& attrs) {
                 ILayer* layer = n.addLayer(opType.c_str(), inputs, outputs, toAttributes(attrs));
                 if (!layer) throw py::value_error("cannot add a " + opType + " layer (the logger says why)");
                 return layer;
             },
             py::arg("op_type"), py::arg("inputs"), py::arg("num_outputs") = 1, py::arg("attributes") = py::dict(),
             py::return_value_policy::reference_internal,
             "Any ONNX operator Kiln knows, by op type; None in inputs for an omitted optional input")
        .def("mark_output", &NetworkDefinition::markOutput, py::arg("tensor"))
        .def("unmark_output", &NetworkDefinition::unmarkOutput, py::arg("tensor"));
    addPluginLayerBinding(network);

    py::class_<Parser>(m, "OnnxParser", "Fills a network from an ONNX model")
        .def(py::init([](NetworkDefinition& network, ILogger& logger) { return createParser(network, logger); }),
             py::arg("network"), py::arg("logger"), py::keep_alive<1, 2>(), py::keep_alive<1, 3>())
        .def("parse_from_file", [](Parser& p, const std::string& path) { return p.parseFromFile(path.c_str()); },
             py::arg("path"), py::call_guard<py::gil_scoped_release>())
        .def("parse",
             [](Parser& p, const py::bytes& model, const std::string& modelDir) {
                 const std::string bytes = readBytes(model);
                 py::gil_scoped_release release;
                 return p.parse(bytes.data(), bytes.size(), modelDir.empty() ? nullptr : modelDir.c_str());
             },
             py::arg("model"), py::arg("model_dir") = "")
        .def_property_readonly("num_errors", &Parser::getNbErrors)
        .def("get_error", [](const Parser& p, int32_t i) {
                 const ParserError* e = p.getError(i);
                 if (!e) throw py::index_error("no parser error " + std::to_string(i));
                 return e->describe();
             },
             py::arg("index"))
        .def("clear_errors", &Parser::clearErrors);

    py::class_<OptimizationProfile>(m, "OptimizationProfile", "min / opt / max shapes of the dynamic inputs")
        .def("set_shape",
             [](OptimizationProfile& p, const std::string& name, const py::sequence& min, const py::sequence& opt,
                const py::sequence& max) {
                 return p.setDimensions(name.c_str(), OptProfileSelector::kMIN, toDims(min)) &&
                        p.setDimensions(name.c_str(), OptProfileSelector::kOPT, toDims(opt)) &&
                        p.setDimensions(name.c_str(), OptProfileSelector::kMAX, toDims(max));
             },
             py::arg("input"), py::arg("min"), py::arg("opt"), py::arg("max"))
        .def("get_shape",
             [](const OptimizationProfile& p, const std::string& name) {
                 return py::make_tuple(toTuple(p.getDimensions(name.c_str(), OptProfileSelector::kMIN)),
                                       toTuple(p.getDimensions(name.c_str(), OptProfileSelector::kOPT)),
                                       toTuple(p.getDimensions(name.c_str(), OptProfileSelector::kMAX)));
             },
             py::arg("input"))
        .def("is_valid", &OptimizationProfile::isValid);

    py::class_<BuilderConfig>(m, "BuilderConfig", "How to build: precision flags, target device, workspace, profiles")
        .def("set_flag", &BuilderConfig::setFlag, py::arg("flag"))
        .def("clear_flag", &BuilderConfig::clearFlag, py::arg("flag"))
        .def("get_flag", &BuilderConfig::getFlag, py::arg("flag"))
        .def("add_optimization_profile", [](BuilderConfig& c, const OptimizationProfile& p) { return c.addOptimizationProfile(&p); },
             py::arg("profile"))
        .def_property_readonly("num_optimization_profiles", &BuilderConfig::getNbOptimizationProfiles)
        .def_property("default_device_type", &BuilderConfig::getDefaultDeviceType, &BuilderConfig::setDefaultDeviceType)
        .def_property("builder_optimization_level", &BuilderConfig::getBuilderOptimizationLevel,
                      &BuilderConfig::setBuilderOptimizationLevel)
        .def_property("workspace_bytes", [](const BuilderConfig& c) { return c.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE); },
                      [](BuilderConfig& c, size_t bytes) { c.setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, bytes); })
        .def("set_io_type", &BuilderConfig::setIoType, py::arg("tensor"), py::arg("dtype"))
        .def_property("int8_calibrator", &BuilderConfig::getInt8Calibrator,
                      py::cpp_function([](BuilderConfig& c, IInt8Calibrator* calibrator) { c.setInt8Calibrator(calibrator); },
                                       py::keep_alive<1, 2>()),
                      "With BuilderFlag.INT8: the kiln.IInt8Calibrator giving each activation's range (or None)");

    py::class_<Builder>(m, "Builder", "Builds serialized engines from networks")
        .def(py::init([](ILogger& logger) { return createBuilder(logger); }), py::arg("logger"), py::keep_alive<1, 2>())
        .def("create_network", &Builder::createNetwork)
        .def("create_builder_config", &Builder::createBuilderConfig)
        .def("create_optimization_profile", &Builder::createOptimizationProfile)
        .def_property_readonly("platform_has_gpu", &Builder::platformHasGpu)
        .def("build_serialized_network",
             [](Builder& b, NetworkDefinition& network, const BuilderConfig& config) -> py::object {
                 std::unique_ptr<HostMemory> plan;
                 {
                     py::gil_scoped_release release;
                     plan = b.buildSerializedNetwork(network, config);
                 }
                 raiseCalibratorError(config);
                 if (!plan) return py::none();
                 return py::bytes(static_cast<const char*>(plan->data()), plan->size());
             },
             py::arg("network"), py::arg("config"),
             "The engine's bytes, or None when the build fails (the logger has every reason)");
}

}  // namespace kiln::python
