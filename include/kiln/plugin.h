#pragma once
/// \file plugin.h
/// Plugins: layers whose implementation the application supplies, for operators Kiln has no kernel
/// for (TensorRT's IPluginV3 shape). A plugin has a build-time part (which backends and element types
/// it runs with, which fields the engine stores) and a run-time part (output types and shapes,
/// workspace, enqueue), made by its creator from named fields. Creators live in a process-wide
/// registry keyed by (name, version, namespace), filled by static registration (KILN_REGISTER_PLUGIN)
/// in the application or in a shared library loaded with IPluginRegistry::loadLibrary
/// (`kiln exec --staticPlugins=lib.so`).
///
/// Where plugins enter a network:
///  - NetworkDefinition::addPluginLayer(), by creator name and fields;
///  - the ONNX parser: a node whose operator Kiln cannot import becomes a plugin layer when a creator
///    of that name is registered (its attributes are the fields; the attributes `plugin_version` and
///    `plugin_namespace` choose among creators, as in onnx-tensorrt).
/// An engine stores each plugin layer as its name, version and namespace plus the fields its build
/// part serialized, and recreates the run-time part from those fields when it is loaded: the plugin's
/// creator must be registered before a context of such an engine is created.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "kiln/types.h"

namespace kiln {

/// The version of the interfaces below. A creator reports the version it was compiled against
/// (IPluginCreator::getInterfaceVersion); the registry refuses creators of another version.
constexpr int32_t kPluginInterfaceVersion = 1;

/// A plugin's parameters by name, of the kinds ONNX attributes have (a string may hold any bytes).
class PluginFieldCollection {
public:
    using Value = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>>;

    /// Adds the field or replaces the one of that name.
    PluginFieldCollection& set(const std::string& name, Value value);
    PluginFieldCollection& setInt(const std::string& name, int64_t value) { return set(name, value); }
    PluginFieldCollection& setFloat(const std::string& name, float value) { return set(name, value); }
    PluginFieldCollection& setString(const std::string& name, std::string value) { return set(name, std::move(value)); }
    PluginFieldCollection& setInts(const std::string& name, std::vector<int64_t> v) { return set(name, std::move(v)); }
    PluginFieldCollection& setFloats(const std::string& name, std::vector<float> v) { return set(name, std::move(v)); }
    PluginFieldCollection& setStrings(const std::string& name, std::vector<std::string> v) {
        return set(name, std::move(v));
    }

    bool has(const std::string& name) const noexcept { return find(name) != nullptr; }
    /// The field called `name`, or nullptr.
    const Value* find(const std::string& name) const noexcept;
    /// The fields in the order they were first set.
    const std::vector<std::pair<std::string, Value>>& fields() const noexcept { return mFields; }

    /// Typed reads: nullopt when the field is absent or of another kind (getFloat also reads an int).
    std::optional<int64_t> getInt(const std::string& name) const noexcept;
    std::optional<float> getFloat(const std::string& name) const noexcept;
    std::optional<std::string> getString(const std::string& name) const;
    std::optional<std::vector<int64_t>> getInts(const std::string& name) const;
    std::optional<std::vector<float>> getFloats(const std::string& name) const;
    std::optional<std::vector<std::string>> getStrings(const std::string& name) const;

private:
    std::vector<std::pair<std::string, Value>> mFields;
};

/// One input or output of a plugin layer as enqueue sees it.
struct PluginTensorDesc {
    DataType type{DataType::kFLOAT};
    Dims dims;
};

/// The run-time part: all that a loaded engine needs. Each execution context holds its own instance,
/// so enqueue may keep state between runs of one context without locking.
class IPluginRuntime {
public:
    virtual ~IPluginRuntime() = default;
    /// The number of outputs.
    virtual int32_t getNbOutputs() const noexcept = 0;
    /// Output element types for these input types. False, with `error` set, when they do not fit.
    virtual bool getOutputDataTypes(const DataType* inputTypes, int32_t nbInputs, DataType* outputTypes,
                                    std::string* error) const noexcept = 0;
    /// Output dimensions for these input dimensions. Called at build time, where an input dimension
    /// fixed only at run time is -1 (set an output dimension that depends on one to -1), and again at
    /// run time on every new input shape, where every input dimension is known and every output
    /// dimension must be. False, with `error` set, when the inputs do not fit.
    virtual bool getOutputShapes(const Dims* inputs, int32_t nbInputs, Dims* outputs, std::string* error) const
        noexcept = 0;
    /// Scratch bytes enqueue needs at these shapes (asked on every shape change).
    virtual size_t getWorkspaceSize(const PluginTensorDesc* inputs, int32_t nbInputs, const PluginTensorDesc* outputs,
                                    int32_t nbOutputs) const noexcept {
        (void)inputs, (void)nbInputs, (void)outputs, (void)nbOutputs;
        return 0;
    }
    /// Computes the outputs. `backend` is the backend the layer was built for ("cpu": pointers are
    /// host memory and `stream` is null; "cuda": pointers are device memory and `stream` is a
    /// cudaStream_t on which the work must be enqueued, without synchronizing, so that a CUDA graph can
    /// capture it). Returns 0 on success; anything else fails the run, with `error` saying why.
    virtual int32_t enqueue(const char* backend, const PluginTensorDesc* inputDesc, int32_t nbInputs,
                            const PluginTensorDesc* outputDesc, int32_t nbOutputs, const void* const* inputs,
                            void* const* outputs, void* workspace, Stream stream, std::string* error) noexcept = 0;
};

/// The build-time part: consulted while a network is built, never by a loaded engine.
class IPluginBuild {
public:
    virtual ~IPluginBuild() = default;
    /// Whether the plugin runs on `backend` ("cpu", "cuda") with these element types. The builder asks
    /// before it places the layer, and again for a lower precision (--fp16) before it lowers it.
    virtual bool supportsFormatCombination(const char* backend, const DataType* inputTypes, int32_t nbInputs,
                                           const DataType* outputTypes, int32_t nbOutputs) const noexcept = 0;
    /// The fields the engine stores for this layer. Both parts are created from them later (the
    /// run-time part when an engine loads), so they must be complete.
    virtual PluginFieldCollection getFieldsToSerialize() const noexcept = 0;
};

/// Makes a plugin's parts. One creator per (name, version, namespace).
class IPluginCreator {
public:
    virtual ~IPluginCreator() = default;
    /// The interface version this creator was compiled against (left to this inline default).
    virtual int32_t getInterfaceVersion() const noexcept { return kPluginInterfaceVersion; }
    virtual const char* getPluginName() const noexcept = 0;
    virtual const char* getPluginVersion() const noexcept = 0;
    virtual const char* getPluginNamespace() const noexcept { return ""; }
    /// The build-time part for these fields; nullptr, with `error` set, when the fields are wrong.
    virtual std::unique_ptr<IPluginBuild> createBuildPart(const PluginFieldCollection& fields,
                                                          std::string* error) noexcept = 0;
    /// The run-time part for fields that the build part serialized; nullptr, with `error` set, when
    /// they are wrong.
    virtual std::unique_ptr<IPluginRuntime> createRuntimePart(const PluginFieldCollection& fields,
                                                              std::string* error) noexcept = 0;
};

/// The process-wide set of plugin creators. Thread-safe.
class IPluginRegistry {
public:
    virtual ~IPluginRegistry() = default;
    /// Registers `creator`, which must outlive its registration (static registration keeps it for the
    /// life of the process). False, with `error` set, when another creator has its (name, version,
    /// namespace) or it was compiled against another interface version.
    virtual bool registerCreator(IPluginCreator& creator, std::string* error = nullptr) noexcept = 0;
    virtual bool deregisterCreator(const IPluginCreator& creator) noexcept = 0;
    /// The creator of that name, version and namespace, or nullptr.
    virtual IPluginCreator* getCreator(const char* name, const char* version, const char* pluginNamespace = "") const
        noexcept = 0;
    virtual std::vector<IPluginCreator*> getAllCreators() const noexcept = 0;
    /// Loads a shared library whose static registrations (KILN_REGISTER_PLUGIN) add creators. False,
    /// with `error` set, when it cannot be loaded, registers no creator or a registration fails. A
    /// library already loaded is not loaded again.
    virtual bool loadLibrary(const char* path, std::string* error = nullptr) noexcept = 0;
};

/// The process-wide registry.
IPluginRegistry& getPluginRegistry() noexcept;

/// Registers a default-constructed `Creator` for the life of the process (KILN_REGISTER_PLUGIN). A
/// registration that fails is remembered, so that the loadLibrary of its library reports why.
void reportFailedPluginRegistration(const std::string& error) noexcept;

template <typename Creator>
class PluginRegistrar {
public:
    PluginRegistrar() {
        std::string error;
        if (!getPluginRegistry().registerCreator(mCreator, &error)) reportFailedPluginRegistration(error);
    }

private:
    Creator mCreator;
};

}  // namespace kiln

#define KILN_PLUGIN_CONCAT_(a, b) a##b
#define KILN_PLUGIN_CONCAT(a, b) KILN_PLUGIN_CONCAT_(a, b)
/// Registers a creator class at static-initialization time (in an application or a plugin library).
#define KILN_REGISTER_PLUGIN(CreatorType) \
    static ::kiln::PluginRegistrar<CreatorType> KILN_PLUGIN_CONCAT(kilnPluginRegistrar_, __LINE__)
