// Plugins from Python (kiln/plugin.h): the registry (loading plugin libraries, listing creators),
// NetworkDefinition.add_plugin_layer, and plugins written in Python. A Python creator subclasses
// kiln.IPluginCreator and makes kiln.IPluginBuild / kiln.IPluginRuntime subclasses; fields are dicts.
// enqueue() on the "cpu" backend gets NumPy arrays over the engine's own buffers (zero-copy: inputs
// read-only, outputs to fill in place); on other backends it gets (address, dtype, shape) tuples and
// the stream as an int, for CuPy or PyTorch to wrap.
//
// Every call from Kiln into Python takes the GIL (builds and runs release it) and turns a Python
// exception into the plugin error Kiln reports, never an exception through C++.

#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "kiln/plugin.h"

namespace kiln::python {

namespace {

PluginFieldCollection toFields(const py::dict& dict) {
    PluginFieldCollection fields;
    for (const auto& [key, value] : dict) {
        const std::string name = py::str(key);
        if (py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value)) {
            fields.setInt(name, value.cast<int64_t>());
        } else if (py::isinstance<py::float_>(value)) {
            fields.setFloat(name, value.cast<float>());
        } else if (py::isinstance<py::str>(value) || py::isinstance<py::bytes>(value)) {
            fields.setString(name, value.cast<std::string>());
        } else if (py::isinstance<py::sequence>(value)) {
            const py::sequence items = value.cast<py::sequence>();
            bool ints = true, strings = true;
            for (const py::handle item : items) {
                ints = ints && (py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item));
                strings = strings && py::isinstance<py::str>(item);
            }
            if (ints && items.size() > 0)
                fields.setInts(name, value.cast<std::vector<int64_t>>());
            else if (strings && items.size() > 0)
                fields.setStrings(name, value.cast<std::vector<std::string>>());
            else
                fields.setFloats(name, value.cast<std::vector<float>>());
        } else {
            throw py::type_error("plugin field '" + name + "' is a " + std::string(py::str(value.get_type())) +
                                 ": fields are int, float, str, bytes or lists of int, float or str");
        }
    }
    return fields;
}

py::dict toDict(const PluginFieldCollection& fields) {
    py::dict dict;
    for (const auto& [name, value] : fields.fields())
        std::visit([&, &name = name](const auto& v) { dict[py::str(name)] = py::cast(v); }, value);
    return dict;
}

std::vector<DataType> typeList(const DataType* types, int32_t count) { return {types, types + count}; }

/// Runs `body` (which calls into Python) under the GIL; a Python exception becomes `error`'s text and
/// `fallback` the result.
template <typename Result, typename Body>
Result callPython(std::string* error, Result fallback, Body&& body) noexcept {
    py::gil_scoped_acquire gil;
    try {
        return body();
    } catch (py::error_already_set& e) {
        if (error) *error = e.what();
    } catch (const std::exception& e) {
        if (error) *error = e.what();
    }
    return fallback;
}

/// Holds a Python object from C++ code that may outlive the GIL's holder: released under the GIL.
class PyHandle {
public:
    explicit PyHandle(py::object object) : mObject(std::move(object)) {}
    ~PyHandle() {
        if (!Py_IsInitialized()) {
            mObject.release();  // the interpreter is gone: leak rather than touch it
            return;
        }
        py::gil_scoped_acquire gil;
        mObject = py::object();
    }
    const py::object& get() const { return mObject; }

private:
    py::object mObject;
};

class PyPluginRuntime final : public IPluginRuntime {
public:
    explicit PyPluginRuntime(py::object self) : mSelf(std::move(self)) {}

    int32_t getNbOutputs() const noexcept override {
        return callPython(nullptr, int32_t{0}, [&] { return mSelf.get().attr("get_num_outputs")().cast<int32_t>(); });
    }

    bool getOutputDataTypes(const DataType* in, int32_t nbInputs, DataType* out, std::string* error) const
        noexcept override {
        return callPython(error, false, [&] {
            auto types = mSelf.get().attr("get_output_data_types")(typeList(in, nbInputs)).cast<std::vector<DataType>>();
            if (types.size() != static_cast<size_t>(getNbOutputs()))
                throw py::value_error("get_output_data_types gave " + std::to_string(types.size()) + " types for " +
                                      std::to_string(getNbOutputs()) + " outputs");
            std::copy(types.begin(), types.end(), out);
            return true;
        });
    }

    bool getOutputShapes(const Dims* in, int32_t nbInputs, Dims* out, std::string* error) const noexcept override {
        return callPython(error, false, [&] {
            py::list shapes;
            for (int32_t i = 0; i < nbInputs; ++i) shapes.append(toTuple(in[i]));
            const py::list result = mSelf.get().attr("get_output_shapes")(shapes);
            if (result.size() != static_cast<size_t>(getNbOutputs()))
                throw py::value_error("get_output_shapes gave " + std::to_string(result.size()) + " shapes for " +
                                      std::to_string(getNbOutputs()) + " outputs");
            for (size_t i = 0; i < result.size(); ++i) out[i] = toDims(result[i].cast<py::sequence>());
            return true;
        });
    }

    size_t getWorkspaceSize(const PluginTensorDesc* in, int32_t nbInputs, const PluginTensorDesc* out,
                            int32_t nbOutputs) const noexcept override {
        return callPython(nullptr, size_t{0}, [&] {
            if (!py::hasattr(mSelf.get(), "get_workspace_size")) return size_t{0};
            return mSelf.get().attr("get_workspace_size")(descs(in, nbInputs), descs(out, nbOutputs)).cast<size_t>();
        });
    }

    int32_t enqueue(const char* backend, const PluginTensorDesc* inDesc, int32_t nbInputs,
                    const PluginTensorDesc* outDesc, int32_t nbOutputs, const void* const* inputs,
                    void* const* outputs, void* workspace, Stream stream, std::string* error) noexcept override {
        (void)workspace;
        return callPython(error, int32_t{1}, [&] {
            const bool host = std::string(backend) == "cpu";
            py::list ins, outs;
            for (int32_t i = 0; i < nbInputs; ++i)
                ins.append(host ? py::object(hostArray(inDesc[i], const_cast<void*>(inputs[i]), false))
                                : py::object(deviceTuple(inDesc[i], inputs[i])));
            for (int32_t i = 0; i < nbOutputs; ++i)
                outs.append(host ? py::object(hostArray(outDesc[i], outputs[i], true))
                                 : py::object(deviceTuple(outDesc[i], outputs[i])));
            mSelf.get().attr("enqueue")(std::string(backend), ins, outs, reinterpret_cast<uintptr_t>(stream));
            return int32_t{0};
        });
    }

private:
    static py::list descs(const PluginTensorDesc* d, int32_t n) {
        py::list list;
        for (int32_t i = 0; i < n; ++i) list.append(py::make_tuple(d[i].type, toTuple(d[i].dims)));
        return list;
    }
    /// A NumPy array over `data` (no copy): Kiln's buffer stays the owner.
    static py::array hostArray(const PluginTensorDesc& desc, void* data, bool writeable) {
        std::vector<py::ssize_t> shape(desc.dims.d, desc.dims.d + desc.dims.nbDims);
        py::array array(numpyType(desc.type), shape, data, py::capsule(data, [](void*) {}));
        if (!writeable) array.attr("setflags")(py::arg("write") = false);
        return array;
    }
    static py::tuple deviceTuple(const PluginTensorDesc& desc, const void* data) {
        return py::make_tuple(reinterpret_cast<uintptr_t>(data), desc.type, toTuple(desc.dims));
    }

    PyHandle mSelf;
};

class PyPluginBuild final : public IPluginBuild {
public:
    explicit PyPluginBuild(py::object self) : mSelf(std::move(self)) {}

    bool supportsFormatCombination(const char* backend, const DataType* in, int32_t nbInputs, const DataType* out,
                                   int32_t nbOutputs) const noexcept override {
        return callPython(nullptr, false, [&] {
            return mSelf.get()
                .attr("supports_format_combination")(std::string(backend), typeList(in, nbInputs), typeList(out, nbOutputs))
                .cast<bool>();
        });
    }

    PluginFieldCollection getFieldsToSerialize() const noexcept override {
        return callPython(nullptr, PluginFieldCollection(), [&] {
            return toFields(mSelf.get().attr("get_fields_to_serialize")().cast<py::dict>());
        });
    }

private:
    PyHandle mSelf;
};

/// A creator written in Python. Registered creators live until the process exits (the registry holds
/// them by address), so their adapters are never freed.
class PyPluginCreator : public IPluginCreator {
public:
    PyPluginCreator(std::string name, std::string version, std::string pluginNamespace)
        : mName(std::move(name)), mVersion(std::move(version)), mNamespace(std::move(pluginNamespace)) {}

    const char* getPluginName() const noexcept override { return mName.c_str(); }
    const char* getPluginVersion() const noexcept override { return mVersion.c_str(); }
    const char* getPluginNamespace() const noexcept override { return mNamespace.c_str(); }

    std::unique_ptr<IPluginBuild> createBuildPart(const PluginFieldCollection& fields, std::string* error) noexcept
        override {
        return callPython(error, std::unique_ptr<IPluginBuild>(), [&] {
            py::object part = self().attr("create_build_part")(toDict(fields));
            if (!py::isinstance<IPluginBuild>(part)) throw py::type_error("create_build_part must return a kiln.IPluginBuild");
            return std::unique_ptr<IPluginBuild>(std::make_unique<PyPluginBuild>(std::move(part)));
        });
    }

    std::unique_ptr<IPluginRuntime> createRuntimePart(const PluginFieldCollection& fields, std::string* error) noexcept
        override {
        return callPython(error, std::unique_ptr<IPluginRuntime>(), [&] {
            py::object part = self().attr("create_runtime_part")(toDict(fields));
            if (!py::isinstance<IPluginRuntime>(part))
                throw py::type_error("create_runtime_part must return a kiln.IPluginRuntime");
            return std::unique_ptr<IPluginRuntime>(std::make_unique<PyPluginRuntime>(std::move(part)));
        });
    }

private:
    /// The Python object of this creator (pybind11 keeps the C++ and Python halves together).
    py::object self() const { return py::cast(static_cast<const IPluginCreator*>(this)); }

    std::string mName, mVersion, mNamespace;
};

/// Base classes Python subclasses; their methods are called by name from the adapters above.
class PyBuildBase : public IPluginBuild {
public:
    bool supportsFormatCombination(const char*, const DataType*, int32_t, const DataType*, int32_t) const
        noexcept override {
        return false;
    }
    PluginFieldCollection getFieldsToSerialize() const noexcept override { return {}; }
};

class PyRuntimeBase : public IPluginRuntime {
public:
    int32_t getNbOutputs() const noexcept override { return 0; }
    bool getOutputDataTypes(const DataType*, int32_t, DataType*, std::string*) const noexcept override { return false; }
    bool getOutputShapes(const Dims*, int32_t, Dims*, std::string*) const noexcept override { return false; }
    int32_t enqueue(const char*, const PluginTensorDesc*, int32_t, const PluginTensorDesc*, int32_t, const void* const*,
                    void* const*, void*, Stream, std::string*) noexcept override {
        return 1;
    }
};

}  // namespace

void bindPlugins(py::module_& m) {
    py::class_<IPluginBuild, PyBuildBase>(m, "IPluginBuild",
                                          "A plugin's build-time part. Override supports_format_combination(backend, "
                                          "input_types, output_types) -> bool and get_fields_to_serialize() -> dict")
        .def(py::init_alias<>());
    py::class_<IPluginRuntime, PyRuntimeBase>(
        m, "IPluginRuntime",
        "A plugin's run-time part. Override get_num_outputs() -> int, get_output_data_types(input_types) -> list, "
        "get_output_shapes(input_shapes) -> list of tuples (-1: known only at run time), optionally "
        "get_workspace_size(inputs, outputs) -> int, and enqueue(backend, inputs, outputs, stream): on 'cpu' the "
        "inputs and outputs are NumPy arrays over the engine's buffers (fill the outputs in place)")
        .def(py::init_alias<>());
    py::class_<IPluginCreator, PyPluginCreator>(
        m, "IPluginCreator",
        "Makes a plugin's parts from a dict of fields. Subclass, call IPluginCreator.__init__(self, name, version, "
        "namespace), override create_build_part(fields) and create_runtime_part(fields), then "
        "get_plugin_registry().register_creator(creator)")
        .def(py::init_alias<std::string, std::string, std::string>(), py::arg("name"), py::arg("version") = "1",
             py::arg("namespace") = "")
        .def_property_readonly("name", &IPluginCreator::getPluginName)
        .def_property_readonly("version", &IPluginCreator::getPluginVersion)
        .def_property_readonly("namespace", &IPluginCreator::getPluginNamespace);

    py::class_<IPluginRegistry, std::unique_ptr<IPluginRegistry, py::nodelete>>(m, "PluginRegistry",
                                                                                "The process-wide plugin creators")
        .def("load_library",
             [](IPluginRegistry& registry, const std::string& path) {
                 std::string error;
                 bool loaded;
                 {
                     py::gil_scoped_release release;
                     loaded = registry.loadLibrary(path.c_str(), &error);
                 }
                 if (!loaded) throw std::runtime_error(error);
             },
             py::arg("path"), "Loads a shared library of plugins (KILN_REGISTER_PLUGIN); raises RuntimeError on failure")
        .def("register_creator",
             [](IPluginRegistry& registry, py::object creator) {
                 auto* native = creator.cast<IPluginCreator*>();
                 std::string error;
                 if (!registry.registerCreator(*native, &error)) throw std::runtime_error(error);
                 // The registry holds the creator by address for the life of the process.
                 creator.inc_ref();
             },
             py::arg("creator"))
        .def_property_readonly("creators", [](const IPluginRegistry& registry) {
            py::list out;
            for (IPluginCreator* c : registry.getAllCreators())
                out.append(py::make_tuple(c->getPluginName(), c->getPluginVersion(), c->getPluginNamespace()));
            return out;
        }, "(name, version, namespace) of every registered creator");
    m.def("get_plugin_registry", &getPluginRegistry, py::return_value_policy::reference);
}

void addPluginLayerBinding(py::class_<NetworkDefinition>& network) {
    network.def(
        "add_plugin_layer",
        [](NetworkDefinition& n, const std::vector<ITensor*>& inputs, const std::string& name, const std::string& version,
           const std::string& pluginNamespace, const py::dict& fields) {
            const PluginFieldCollection collection = toFields(fields);
            ILayer* layer = nullptr;
            {
                py::gil_scoped_release release;  // a Python plugin's calls take it back
                layer = n.addPluginLayer(inputs, name.c_str(), version.c_str(), pluginNamespace.c_str(), collection);
            }
            if (!layer) throw py::value_error("cannot add plugin layer " + name + " (the logger says why)");
            return layer;
        },
        py::arg("inputs"), py::arg("name"), py::arg("version") = "1", py::arg("namespace") = "",
        py::arg("fields") = py::dict(), py::return_value_policy::reference_internal,
        "A layer computed by the registered plugin (name, version, namespace) with these fields");
}

}  // namespace kiln::python
