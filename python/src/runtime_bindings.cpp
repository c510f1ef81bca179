// Running: Runtime, Engine and ExecutionContext. A context keeps its engine alive, an engine its
// runtime. execute() and execute_async() release the GIL. infer() takes NumPy arrays (read in place
// when they already have the engine's dtype and C order, else converted once) and DLPack tensors
// (torch, CuPy: always in place), and writes outputs into NumPy arrays it returns or into DLPack
// tensors the caller gives. A CUDA engine takes device tensors through DLPack, or device addresses
// through set_tensor_address and execute_async.

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.h"
#include "dlpack_tensor.h"
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

/// An input or output given through DLPack, checked against the engine: its memory must be where the
/// engine runs and hold the engine's element type (nothing is converted: Kiln uses it in place).
DlpackTensor engineTensor(const Engine& engine, const std::string& name, const py::handle& object, uintptr_t stream,
                          const std::string& what) {
    DlpackTensor t = fromDlpack(object, stream, what);
    const bool engineOnCuda = std::string(engine.getBackendName()) != "cpu";
    if (t.onCuda != engineOnCuda)
        throw py::type_error(what + " is in " + (t.onCuda ? "CUDA device" : "host") + " memory, and this engine runs on " +
                             engine.getBackendName());
    const DataType want = engine.getTensorDataType(name.c_str());
    if (t.type != want)
        throw py::type_error(what + " is " + dataTypeName(t.type) + ", and the engine's is " + dataTypeName(want) +
                             " (a DLPack tensor is used in place, not converted)");
    return t;
}

/// Receives a CPU engine's output whose shape is known only during the run (it depends on input
/// values): the bytes land here, and become a NumPy array of the reported shape after the run.
class HostOutputBuffer : public IOutputAllocator {
public:
    void* reallocateOutput(const char*, void*, uint64_t size, uint64_t) noexcept override {
        try {
            mBytes.assign(std::max<size_t>(static_cast<size_t>(size), 1), 0);
        } catch (const std::bad_alloc&) {
            return nullptr;  // fails the run, which says so
        }
        return mBytes.data();
    }
    void notifyShape(const char*, const Dims& dims) noexcept override { mDims = dims; }

    py::array toArray(DataType type) const {
        std::vector<py::ssize_t> shape(mDims.d, mDims.d + mDims.nbDims);
        py::array out(numpyType(type), shape);
        if (out.nbytes()) std::memcpy(out.mutable_data(), mBytes.data(), static_cast<size_t>(out.nbytes()));
        return out;
    }

private:
    std::vector<uint8_t> mBytes;
    Dims mDims;
};

/// A host array of the I/O's element type (converted once when needed), held by the caller until the run.
py::array hostArray(const Engine& engine, const std::string& name, const py::handle& value, const std::string& what) {
    py::array array = py::array::ensure(value, py::array::c_style | py::array::forcecast);
    if (!array) throw py::type_error(what + " is not convertible to an array");
    const py::dtype want = numpyType(engine.getTensorDataType(name.c_str()));
    if (!array.dtype().is(want)) array = py::array(py::module_::import("numpy").attr("ascontiguousarray")(array, want));
    return array;
}

HostTensor hostTensor(const py::array& array, DataType type) {
    HostTensor t;
    t.dtype = type;
    t.dims.nbDims = static_cast<int32_t>(array.ndim());
    for (int32_t d = 0; d < t.dims.nbDims; ++d) t.dims.d[d] = array.shape(d);
    t.data = array.data();
    return t;
}

/// Sets a sequence or optional input from Python: a list of arrays for a sequence, an array for an
/// optional tensor, None for an empty optional. The context copies the data.
void setContainerInput(ExecutionContext& context, const std::string& name, IOKind kind, const py::handle& feed) {
    const Engine& engine = context.getEngine();
    const std::string what = "input '" + name + "'";
    const DataType type = engine.getTensorDataType(name.c_str());
    bool ok = false;
    if (feed.is_none()) {
        if (kind == IOKind::kSEQUENCE) throw py::type_error(what + " is a sequence: give a list of arrays (None is for optionals)");
        ok = context.setInputOptional(name.c_str(), nullptr);
    } else if (kind == IOKind::kOPTIONAL_TENSOR) {
        const py::array array = hostArray(engine, name, feed, what);
        const HostTensor t = hostTensor(array, type);
        ok = context.setInputOptional(name.c_str(), &t);
    } else {
        if (!py::isinstance<py::list>(feed) && !py::isinstance<py::tuple>(feed))
            throw py::type_error(what + " is a sequence: give a list of arrays");
        std::vector<py::array> arrays;
        std::vector<HostTensor> elements;
        for (const py::handle item : feed.cast<py::sequence>()) {
            arrays.push_back(hostArray(engine, name, item, what + "'s element"));
            elements.push_back(hostTensor(arrays.back(), type));
        }
        ok = context.setInputSequence(name.c_str(), elements.data(), static_cast<int32_t>(elements.size()));
    }
    if (!ok) throw py::value_error(what + " is refused (the logger says why)");
}

/// A sequence or optional output after the run: a list of arrays, one array, or None when empty.
py::object containerOutput(const ExecutionContext& context, const std::string& name, IOKind kind) {
    std::vector<HostTensor> tensors;
    bool present = false;
    if (!context.getOutputValue(name.c_str(), tensors, present))
        throw std::runtime_error("output '" + name + "' cannot be read (the logger says why)");
    if (!present) return py::none();
    auto copy = [](const HostTensor& t) {
        std::vector<py::ssize_t> shape(t.dims.d, t.dims.d + t.dims.nbDims);
        py::array out(numpyType(t.dtype), shape);
        if (out.nbytes()) std::memcpy(out.mutable_data(), t.data, static_cast<size_t>(out.nbytes()));
        return out;
    };
    if (kind == IOKind::kOPTIONAL_TENSOR) return tensors.empty() ? py::object(py::none()) : py::object(copy(tensors[0]));
    py::list list;
    for (const HostTensor& t : tensors) list.append(copy(t));
    return std::move(list);
}

py::dict infer(ExecutionContext& context, const py::dict& feeds, const py::object& given, uintptr_t stream) {
    const Engine& engine = context.getEngine();
    const bool onCuda = std::string(engine.getBackendName()) != "cpu";
    const std::vector<std::string> inputs = ioNames(engine, TensorIOMode::kINPUT);
    const std::vector<std::string> outputs = ioNames(engine, TensorIOMode::kOUTPUT);
    const py::dict givenOutputs = given.is_none() ? py::dict() : given.cast<py::dict>();
    for (const auto& [dict, names, kind] : {std::tuple{&feeds, &inputs, "an input"}, std::tuple{&givenOutputs, &outputs, "an output"}})
        for (const auto& item : *dict) {
            const std::string name = py::str(item.first);
            if (std::find(names->begin(), names->end(), name) == names->end())
                throw py::key_error("'" + name + "' is not " + kind + " of the engine");
        }

    std::vector<py::object> held;  // what the engine reads and writes, alive until the run ends
    for (const std::string& name : inputs) {
        if (!feeds.contains(name)) throw py::key_error("no array given for input '" + name + "'");
        const py::object feed = feeds[name.c_str()];
        if (const IOKind kind = engine.getIOKind(name.c_str()); kind != IOKind::kTENSOR) {
            setContainerInput(context, name, kind, feed);
            continue;
        }
        const std::string what = "input '" + name + "'";
        Dims dims;
        void* address = nullptr;
        if (isDlpackProducer(feed)) {
            DlpackTensor t = engineTensor(engine, name, feed, stream, what);
            dims = t.dims;
            address = t.data;
            held.push_back(std::move(t.capsule));
        } else {
            if (onCuda)
                throw py::type_error(what + ": this engine runs on " + std::string(engine.getBackendName()) +
                                     " and takes device tensors through DLPack (a torch CUDA tensor, a CuPy array)");
            py::array array = hostArray(engine, name, feed, what);
            dims.nbDims = static_cast<int32_t>(array.ndim());
            for (int32_t d = 0; d < dims.nbDims; ++d) dims.d[d] = array.shape(d);
            address = const_cast<void*>(array.data());
            held.push_back(std::move(array));
        }
        if (!context.setInputShape(name.c_str(), dims))
            throw py::value_error(what + ": shape " + py::str(toTuple(dims)).cast<std::string>() +
                                  " is refused (outside the profile, or the wrong rank; the logger says which)");
        context.setTensorAddress(name.c_str(), address);
    }
    py::dict results;
    std::vector<std::string> containerOutputs;  // read after the run
    std::vector<std::pair<std::string, std::unique_ptr<HostOutputBuffer>>> dynamicOutputs;  // sized by the run
    for (const std::string& name : outputs) {
        if (engine.getIOKind(name.c_str()) != IOKind::kTENSOR) {
            if (givenOutputs.contains(name))
                throw py::type_error("output '" + name + "' is a sequence or optional: it cannot be given as a tensor");
            containerOutputs.push_back(name);
            continue;
        }
        const std::string what = "output '" + name + "'";
        const Dims dims = context.getTensorShape(name.c_str());
        std::vector<py::ssize_t> shape;
        for (int32_t d = 0; d < dims.nbDims; ++d) shape.push_back(static_cast<py::ssize_t>(dims.d[d]));
        if (context.hasDataDependentShape(name.c_str())) {
            // Its shape depends on input values: the run reports it (host memory only).
            if (onCuda || givenOutputs.contains(name))
                throw py::value_error(what + " has a shape known only during the run (it depends on input values): "
                                      "infer() cannot take a buffer for it" + (onCuda ? " on a CUDA engine" : ""));
            auto& buffer = dynamicOutputs.emplace_back(name, std::make_unique<HostOutputBuffer>());
            context.setOutputAllocator(name.c_str(), buffer.second.get());
            continue;
        }
        context.setOutputAllocator(name.c_str(), nullptr);
        if (givenOutputs.contains(name)) {
            const py::object target = givenOutputs[name.c_str()];
            if (!py::hasattr(target, "__dlpack__")) throw py::type_error(what + " must be given as a DLPack tensor");
            DlpackTensor t = engineTensor(engine, name, target, stream, what);
            if (t.dims != dims)
                throw py::value_error(what + " is given with shape " + py::str(toTuple(t.dims)).cast<std::string>() +
                                      ", and the run computes " + py::str(toTuple(dims)).cast<std::string>());
            context.setTensorAddress(name.c_str(), t.data);
            held.push_back(std::move(t.capsule));
            results[name.c_str()] = target;
        } else if (onCuda) {
            throw py::type_error(what + ": a CUDA engine writes into device tensors you give, e.g. outputs={'" + name +
                                 "': torch.empty(" + py::str(toTuple(dims)).cast<std::string>() +
                                 ", device='cuda', dtype=...)}");
        } else {
            py::array out(numpyType(engine.getTensorDataType(name.c_str())), shape);
            context.setTensorAddress(name.c_str(), out.mutable_data());
            results[name.c_str()] = out;
        }
    }
    bool ok;
    {
        py::gil_scoped_release release;
        ok = onCuda ? context.enqueue(reinterpret_cast<Stream>(stream)) : context.execute();
    }
    if (!ok) throw std::runtime_error("the run failed (the logger says why)");
    for (const std::string& name : containerOutputs)
        results[name.c_str()] = containerOutput(context, name, engine.getIOKind(name.c_str()));
    for (const auto& [name, buffer] : dynamicOutputs) {
        results[name.c_str()] = buffer->toArray(engine.getTensorDataType(name.c_str()));
        context.setOutputAllocator(name.c_str(), nullptr);  // the buffer goes with this call
    }
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
        .def("infer", &infer, py::arg("inputs"), py::arg("outputs") = py::none(), py::arg("stream") = 0,
             "Runs on a dict of inputs by name and returns the outputs as a dict. Sequences are lists of arrays, "
             "optionals an array or None. Inputs are NumPy arrays (converted "
             "to the engine's types when needed) or DLPack tensors (torch, CuPy, ...: used in place). Outputs are "
             "NumPy arrays, or the DLPack tensors given in `outputs` (written in place). A CUDA engine takes and "
             "gives device tensors through DLPack and runs asynchronously on `stream` (a cudaStream_t as an int; "
             "0: the legacy default stream, where torch's default stream runs)");

    // Shared ownership: an engine may be held by Python and by an EngineCache at once.
    py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine", "A deserialized engine, shared by its execution contexts")
        .def_property_readonly("num_io_tensors", &Engine::getNbIOTensors)
        .def("get_tensor_name", &Engine::getIOTensorName, py::arg("index"))
        .def("get_tensor_mode", [](const Engine& e, const std::string& name) { return e.getTensorIOMode(name.c_str()); },
             py::arg("name"))
        .def("get_tensor_kind", [](const Engine& e, const std::string& name) { return e.getIOKind(name.c_str()); },
             py::arg("name"), "TENSOR, or a sequence / optional (infer() takes and gives lists, arrays or None)")
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
