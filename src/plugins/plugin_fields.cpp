// PluginFieldCollection: a plugin's named parameters.

#include "kiln/plugin.h"

namespace kiln {

PluginFieldCollection& PluginFieldCollection::set(const std::string& name, Value value) {
    for (auto& [existing, v] : mFields)
        if (existing == name) {
            v = std::move(value);
            return *this;
        }
    mFields.emplace_back(name, std::move(value));
    return *this;
}

const PluginFieldCollection::Value* PluginFieldCollection::find(const std::string& name) const noexcept {
    for (const auto& [existing, v] : mFields)
        if (existing == name) return &v;
    return nullptr;
}

namespace {

template <typename T>
std::optional<T> fieldAs(const PluginFieldCollection& fields, const std::string& name) {
    const PluginFieldCollection::Value* v = fields.find(name);
    if (!v) return std::nullopt;
    if (const T* typed = std::get_if<T>(v)) return *typed;
    return std::nullopt;
}

}  // namespace

std::optional<int64_t> PluginFieldCollection::getInt(const std::string& name) const noexcept {
    return fieldAs<int64_t>(*this, name);
}

std::optional<float> PluginFieldCollection::getFloat(const std::string& name) const noexcept {
    if (std::optional<int64_t> i = getInt(name)) return static_cast<float>(*i);
    return fieldAs<float>(*this, name);
}

std::optional<std::string> PluginFieldCollection::getString(const std::string& name) const {
    return fieldAs<std::string>(*this, name);
}

std::optional<std::vector<int64_t>> PluginFieldCollection::getInts(const std::string& name) const {
    return fieldAs<std::vector<int64_t>>(*this, name);
}

std::optional<std::vector<float>> PluginFieldCollection::getFloats(const std::string& name) const {
    return fieldAs<std::vector<float>>(*this, name);
}

std::optional<std::vector<std::string>> PluginFieldCollection::getStrings(const std::string& name) const {
    return fieldAs<std::vector<std::string>>(*this, name);
}

}  // namespace kiln
