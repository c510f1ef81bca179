#include "plugins/plugin_node.h"

#include <algorithm>

namespace kiln {

bool isPluginNode(const Node& node) { return node.domain == kPluginDomain; }

std::string describePlugin(const std::string& name, const std::string& version, const std::string& pluginNamespace) {
    std::string text = "plugin '" + name + "' version '" + version + "'";
    if (!pluginNamespace.empty()) text += " in namespace '" + pluginNamespace + "'";
    return text;
}

namespace {

std::string describeNodePlugin(const Node& node) {
    return describePlugin(node.opType, node.attrs.getString(kPluginVersionAttr, ""),
                          node.attrs.getString(kPluginNamespaceAttr, ""));
}

bool isReservedName(const std::string& name) { return name == kPluginVersionAttr || name == kPluginNamespaceAttr; }

}  // namespace

Expected<IPluginCreator*> pluginCreatorOf(const Node& node) {
    IPluginCreator* creator = getPluginRegistry().getCreator(node.opType.c_str(),
                                                             node.attrs.getString(kPluginVersionAttr, "").c_str(),
                                                             node.attrs.getString(kPluginNamespaceAttr, "").c_str());
    if (!creator)
        return unsupported(describeNodePlugin(node) +
                        " is not registered: load the library that implements it first (kiln exec "
                        "--staticPlugins=<lib.so>, or getPluginRegistry().loadLibrary())");
    return creator;
}

Expected<PluginFieldCollection> pluginFieldsOf(const AttributeMap& attrs) {
    PluginFieldCollection fields;
    for (const auto& [name, value] : attrs.all()) {
        if (isReservedName(name)) continue;
        bool converted = std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_constructible_v<PluginFieldCollection::Value, T> &&
                              !std::is_same_v<T, Tensor>) {
                    fields.set(name, v);
                    return true;
                } else {
                    return false;
                }
            },
            value);
        if (!converted)
            return invalidArgument("attribute '" + name + "' is " + attributeToString(value) +
                                   ": plugin fields are ints, floats, strings or lists of them");
    }
    return fields;
}

AttributeMap attributesOf(const PluginFieldCollection& fields) {
    AttributeMap attrs;
    for (const auto& [name, value] : fields.fields())
        std::visit([&, &name = name](const auto& v) { attrs.set(name, v); }, value);
    return attrs;
}

Expected<AttributeMap> pluginNodeAttributes(IPluginCreator& creator, const PluginFieldCollection& fields) {
    const std::string plugin =
        describePlugin(creator.getPluginName(), creator.getPluginVersion(), creator.getPluginNamespace());
    for (const auto& [name, value] : fields.fields())
        if (isReservedName(name)) return invalidArgument(plugin + ": the field name '" + name + "' is reserved");
    std::string error;
    std::unique_ptr<IPluginBuild> build = creator.createBuildPart(fields, &error);
    if (!build) return invalidArgument(plugin + " refused its fields: " + (error.empty() ? "no reason given" : error));
    const PluginFieldCollection serialized = build->getFieldsToSerialize();
    for (const auto& [name, value] : serialized.fields())
        if (isReservedName(name))
            return invalidArgument(plugin + ": the serialized field name '" + name + "' is reserved");
    AttributeMap attrs = attributesOf(serialized);
    attrs.set(kPluginVersionAttr, std::string(creator.getPluginVersion()));
    attrs.set(kPluginNamespaceAttr, std::string(creator.getPluginNamespace()));
    return attrs;
}

Expected<IPluginCreator*> findPluginForOnnxNode(const std::string& opType, const std::optional<std::string>& version,
                                               const std::string& pluginNamespace) {
    if (version)
        return getPluginRegistry().getCreator(opType.c_str(), version->c_str(), pluginNamespace.c_str());
    std::vector<IPluginCreator*> candidates;
    for (IPluginCreator* creator : getPluginRegistry().getAllCreators())
        if (opType == creator->getPluginName() && pluginNamespace == creator->getPluginNamespace())
            candidates.push_back(creator);
    if (candidates.size() > 1) {
        std::string versions;
        for (IPluginCreator* c : candidates) versions += std::string(versions.empty() ? "" : ", ") + c->getPluginVersion();
        return invalidModel("plugins '" + opType + "' of versions " + versions +
                            " are registered: the node's attribute plugin_version must choose one");
    }
    return candidates.empty() ? nullptr : candidates.front();
}

namespace {

/// One part of a plugin node's plugin, made by `make(creator, fields, error)` from the node's serialized fields.
template <typename Part, typename Make>
Expected<std::unique_ptr<Part>> createPart(const Node& node, const char* what, Make make) {
    KILN_ASSIGN_OR_RETURN(IPluginCreator * creator, pluginCreatorOf(node));
    KILN_ASSIGN_OR_RETURN(PluginFieldCollection fields, pluginFieldsOf(node.attrs));
    std::string error;
    std::unique_ptr<Part> part = make(*creator, fields, &error);
    if (!part)
        return invalidArgument(describeNodePlugin(node) + " could not create its " + what + ": " +
                               (error.empty() ? "no reason given" : error));
    return part;
}

}  // namespace

Expected<std::unique_ptr<IPluginRuntime>> createPluginRuntime(const Node& node) {
    return createPart<IPluginRuntime>(node, "run-time part", [](IPluginCreator& c, const auto& fields, std::string* e) {
        return c.createRuntimePart(fields, e);
    });
}

Expected<std::unique_ptr<IPluginBuild>> createPluginBuild(const Node& node) {
    return createPart<IPluginBuild>(node, "build part from its serialized fields",
                                    [](IPluginCreator& c, const auto& fields, std::string* e) {
                                        return c.createBuildPart(fields, e);
                                    });
}

}  // namespace kiln
