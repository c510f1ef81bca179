// Running: Runtime, Engine and ExecutionContext. A context keeps its engine alive, an engine its
// runtime. execute() and execute_async() release the GIL. infer() is the NumPy path for CPU engines:
// inputs are read in place when they already have the engine's dtype and C order (else converted
// once), outputs are written straight into the NumPy arrays it returns. A CUDA engine takes device
// addresses (e.g. a torch CUDA tensor's data_ptr()) through set_tensor_address and execute_async.

#include <map>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.h"
#include "kiln/engine_cache.h"
#include "kiln/runtime.h"

namespace kiln::python {

namespace {

std::vector<std::string> ioNames(const Engine& engine, TensorIOMode mode) {
    std::vector<std::string> names;
    for (int32_t i = 0; i < engine.getNbIOTensors(); ++i)
        if (engine.getTensorIOMode(engine.getIOTensorName(i)) == mode) names.push_back(engine.getIOTensorName(i));
    return names;
}

py::dict infer(ExecutionContext& context, const py::dict& feeds) {
    const Engine& engine = context.getEngine();
    if (std::string(engine.getBackendName()) != "cpu")
        throw py::type_error(std::string("infer() takes host arrays, and this engine runs on ") + engine.getBackendName() +
                             ": give device addresses with set_tensor_address (e.g. a torch CUDA tensor's data_ptr()) "
                             "and call execute_async");
    const std::vector<std::string> inputs = ioNames(engine, TensorIOMode::kINPUT);
    for (const auto& item : feeds) {
        const std::string name = py::str(item.first);
        if (std::find(inputs.begin(), inputs.end(), name) == inputs.end())
            throw py::key_error("'" + name + "' is not an input of the engine");
    }
    std::vector<py::array> held;  // the input arrays as the engine reads them, alive until the run ends
    for (const std::string& name : inputs) {
        if (!feeds.contains(name)) throw py::key_error("no array given for input '" + name + "'");
        py::array array = py::array::ensure(feeds[name.c_str()], py::array::c_style | py::array::forcecast);
        if (!array) throw py::type_error("input '" + name + "' is not convertible to an array");
        const py::dtype want = numpyType(engine.getTensorDataType(name.c_str()));
        if (!array.dtype().is(want)) array = py::array(py::module_::import("numpy").attr("ascontiguousarray")(array, want));
        Dims dims;
        dims.nbDims = static_cast<int32_t>(array.ndim());
        for (int32_t d = 0; d < dims.nbDims; ++d) dims.d[d] = array.shape(d);
        if (!context.setInputShape(name.c_str(), dims))
            throw py::value_error("input '" + name + "': shape " + py::str(toTuple(dims)).cast<std::string>() +
                                  " is refused (outside the profile, or the wrong rank; the logger says which)");
        context.setTensorAddress(name.c_str(), const_cast<void*>(array.data()));
        held.push_back(std::move(array));
    }
    py::dict results;
    for (const std::string& name : ioNames(engine, TensorIOMode::kOUTPUT)) {
        const Dims dims = context.getTensorShape(name.c_str());
        std::vector<py::ssize_t> shape;
        for (int32_t d = 0; d < dims.nbDims; ++d) {
            if (dims.d[d] < 0)
                throw py::value_error("output '" + name + "' has a shape known only during the run (it depends on input "
                                      "values): infer() cannot size it beforehand");
            shape.push_back(static_cast<py::ssize_t>(dims.d[d]));
        }
        py::array out(numpyType(engine.getTensorDataType(name.c_str())), shape);
        context.setTensorAddress(name.c_str(), out.mutable_data());
        results[name.c_str()] = out;
    }
    bool ok;
    {
        py::gil_scoped_release release;
        ok = context.execute();
    }
    if (!ok) throw std::runtime_error("the run failed (the logger says why)");
    return results;
}

}  // namespace

void bindRuntime(py::module_& m) {
    py::class_<ExecutionContext>(m, "ExecutionContext", "Runs an engine; one inference at a time per context")
        .def("set_input_shape", [](ExecutionContext& c, const std::string& name, const py::sequence& shape) {
                 return c.setInputShape(name.c_str(), toDims(shape));
             },
             py::arg("name"), py::arg("shape"))
        .def("get_tensor_shape", [](const ExecutionContext& c, const std::string& name) { return toTuple(c.getTensorShape(name.c_str())); },
             py::arg("name"))
        .def_property_readonly("all_input_dimensions_specified", &ExecutionContext::allInputDimensionsSpecified)
        .def("set_tensor_address",
             [](ExecutionContext& c, const std::string& name, uintptr_t address) {
                 return c.setTensorAddress(name.c_str(), reinterpret_cast<void*>(address));
             },
             py::arg("name"), py::arg("address"))
        .def("get_tensor_address", [](const ExecutionContext& c, const std::string& name) {
                 return reinterpret_cast<uintptr_t>(c.getTensorAddress(name.c_str()));
             },
             py::arg("name"))
        .def("set_optimization_profile", &ExecutionContext::setOptimizationProfile, py::arg("index"))
        .def_property_readonly("optimization_profile", &ExecutionContext::getOptimizationProfile)
        .def("execute", &ExecutionContext::execute, py::call_guard<py::gil_scoped_release>(),
             "Runs with the addresses set and waits; False when the run fails")
        .def("execute_async",
             [](ExecutionContext& c, uintptr_t stream) { return c.enqueue(reinterpret_cast<Stream>(stream)); },
             py::arg("stream_handle"), py::call_guard<py::gil_scoped_release>(),
             "Enqueues a run on a CUDA stream (its handle as an int, e.g. torch.cuda.current_stream().cuda_stream)")
        .def("infer", &infer, py::arg("inputs"),
             "CPU engines: runs on a dict of NumPy arrays (by input name) and returns the outputs as a dict");

    // Shared ownership: an engine may be held by Python and by an EngineCache at once.
    py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine", "A deserialized engine, shared by its execution contexts")
        .def_property_readonly("num_io_tensors", &Engine::getNbIOTensors)
        .def("get_tensor_name", &Engine::getIOTensorName, py::arg("index"))
        .def("get_tensor_mode", [](const Engine& e, const std::string& name) { return e.getTensorIOMode(name.c_str()); },
             py::arg("name"))
        .def("get_tensor_dtype", [](const Engine& e, const std::string& name) { return e.getTensorDataType(name.c_str()); },
             py::arg("name"))
        .def("get_tensor_shape", [](const Engine& e, const std::string& name) { return toTuple(e.getTensorShape(name.c_str())); },
             py::arg("name"))
        .def_property_readonly("num_optimization_profiles", &Engine::getNbOptimizationProfiles)
        .def("get_tensor_profile_shape",
             [](const Engine& e, const std::string& name, int32_t profile) {
                 return py::make_tuple(toTuple(e.getProfileShape(name.c_str(), profile, OptProfileSelector::kMIN)),
                                       toTuple(e.getProfileShape(name.c_str(), profile, OptProfileSelector::kOPT)),
                                       toTuple(e.getProfileShape(name.c_str(), profile, OptProfileSelector::kMAX)));
             },
             py::arg("name"), py::arg("profile_index"))
        .def_property_readonly("num_layers", &Engine::getNbLayers)
        .def_property_readonly("device_memory_size", &Engine::getDeviceMemorySize)
        .def_property_readonly("backend", &Engine::getBackendName)
        .def_property_readonly("layer_information", &Engine::getLayerInformationJson, "The layers as JSON text")
        .def("create_execution_context", &Engine::createExecutionContext, py::keep_alive<0, 1>());

    py::class_<Runtime>(m, "Runtime", "Deserializes engines")
        .def(py::init([](ILogger& logger) { return createRuntime(logger); }), py::arg("logger"), py::keep_alive<1, 2>())
        .def("deserialize_engine",
             [](Runtime& r, const py::bytes& plan) -> std::shared_ptr<Engine> {
                 const std::string bytes(plan);
                 py::gil_scoped_release release;
                 return r.deserializeEngine(bytes.data(), bytes.size());
             },
             py::arg("serialized_engine"), py::keep_alive<0, 1>(), "An Engine, or None when the bytes are not a usable engine");

    py::class_<EngineCacheConfig>(m, "EngineCacheConfig", "max_cached_engines, and the directory engines persist in")
        .def(py::init([](int32_t maxCached, const std::string& directory) { return EngineCacheConfig{maxCached, directory}; }),
             py::arg("max_cached_engines") = 1, py::arg("directory") = "")
        .def_readwrite("max_cached_engines", &EngineCacheConfig::maxCachedEngines)
        .def_readwrite("directory", &EngineCacheConfig::directory);
    py::class_<EngineCache>(m, "EngineCache", "Engines built lazily for the input shapes met (seed 002's dynamic mode)")
        .def(py::init([](ILogger& logger, const std::string& onnxPath, const BuilderConfig& settings, EngineCacheConfig config) {
                 std::unique_ptr<EngineCache> cache = createEngineCache(logger, onnxPath, settings, std::move(config));
                 if (!cache) throw py::value_error("cannot create the engine cache for '" + onnxPath + "' (the logger says why)");
                 return cache;
             }),
             py::arg("logger"), py::arg("onnx_path"), py::arg("settings"), py::arg("config") = EngineCacheConfig{},
             py::keep_alive<1, 2>())
        .def("get_engine",
             [](EngineCache& c, const std::map<std::string, std::vector<int64_t>>& shapes) {
                 std::map<std::string, Dims> dims;
                 for (const auto& [name, shape] : shapes) dims[name] = toDims(py::cast(shape));
                 py::gil_scoped_release release;
                 return c.getEngine(dims);
             },
             py::arg("input_shapes"), "The engine for {input name: shape}, built when none fits; None when that fails")
        .def_property_readonly("num_builds", &EngineCache::getNbBuilds)
        .def_property_readonly("num_disk_loads", &EngineCache::getNbDiskLoads)
        .def_property_readonly("num_cached_engines", &EngineCache::getNbCachedEngines);
}

}  // namespace kiln::python
