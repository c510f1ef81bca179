#pragma once
// How a plugin layer sits in the IR: a node of domain kPluginDomain whose op type is the plugin's
// name and whose attributes are the fields its build part serialized, plus the plugin's version and
// namespace under reserved names. The engine format stores nodes with their attributes, so a plugin
// layer travels into the plan with nothing plugin-specific in the serializer.

#include <optional>
#include <string>

#include "common/status.h"
#include "ir/graph.h"
#include "kiln/plugin.h"

namespace kiln {

inline constexpr const char* kPluginDomain = "kiln.plugin";
inline constexpr const char* kPluginVersionAttr = "kiln.plugin_version";
inline constexpr const char* kPluginNamespaceAttr = "kiln.plugin_namespace";

bool isPluginNode(const Node& node);

/// "plugin 'FlattenConcat' version '1'" (with the namespace when there is one), for messages.
std::string describePlugin(const std::string& name, const std::string& version, const std::string& pluginNamespace);

/// The creator of a plugin node; an error that says how to register it when it is missing.
Expected<IPluginCreator*> pluginCreatorOf(const Node& node);

/// Node attributes <-> plugin fields. The reserved identity attributes are not fields; attributes of
/// other kinds (tensors, graphs) cannot be fields and are an error.
Expected<PluginFieldCollection> pluginFieldsOf(const AttributeMap& attrs);
AttributeMap attributesOf(const PluginFieldCollection& fields);

/// The attributes of a new plugin node: `fields` checked by the creator's build part, which then says
/// what to serialize, plus the creator's identity.
Expected<AttributeMap> pluginNodeAttributes(IPluginCreator& creator, const PluginFieldCollection& fields);

/// The creator for an ONNX node of operator `opType` that Kiln cannot import, or nullptr when none
/// is registered. Its attributes `plugin_version` and `plugin_namespace` (onnx-tensorrt's names)
/// select the creator; without `plugin_version` the one version registered is taken (an error when
/// there are several).
Expected<IPluginCreator*> findPluginForOnnxNode(const std::string& opType, const std::optional<std::string>& version,
                                               const std::string& pluginNamespace);
/// The node attributes that only select the creator (removed before the rest become fields).
inline constexpr const char* kOnnxPluginVersionAttr = "plugin_version";
inline constexpr const char* kOnnxPluginNamespaceAttr = "plugin_namespace";

/// The run-time part of a plugin node (for shape inference and kernels).
Expected<std::unique_ptr<IPluginRuntime>> createPluginRuntime(const Node& node);
/// The build-time part of a plugin node (for the backends' supports()).
Expected<std::unique_ptr<IPluginBuild>> createPluginBuild(const Node& node);

}  // namespace kiln
