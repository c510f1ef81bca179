#pragma once
// Node attributes, owned by the IR (no protobuf types): the ONNX importer converts into these.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/tensor.h"

namespace kiln {

class Graph;

using AttributeValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                                    std::vector<std::string>, Tensor, std::shared_ptr<Graph>,
                                    std::vector<std::shared_ptr<Graph>>>;

/// Attributes of one node, by name. Getters with a default follow ONNX's "attribute absent means
/// default" rule; the typed getters return nullopt when the attribute is absent or of another kind.
class AttributeMap {
public:
    void set(const std::string& name, AttributeValue value) { mValues[name] = std::move(value); }
    bool has(const std::string& name) const { return mValues.count(name) != 0; }
    void erase(const std::string& name) { mValues.erase(name); }
    const std::map<std::string, AttributeValue>& all() const { return mValues; }
    const AttributeValue* find(const std::string& name) const {
        auto it = mValues.find(name);
        return it == mValues.end() ? nullptr : &it->second;
    }

    std::optional<int64_t> getInt(const std::string& name) const { return getAs<int64_t>(name); }
    std::optional<float> getFloat(const std::string& name) const;  // an int attribute converts
    std::optional<std::string> getString(const std::string& name) const { return getAs<std::string>(name); }
    std::optional<std::vector<int64_t>> getInts(const std::string& name) const {
        return getAs<std::vector<int64_t>>(name);
    }
    std::optional<std::vector<float>> getFloats(const std::string& name) const {
        return getAs<std::vector<float>>(name);
    }
    std::optional<std::vector<std::string>> getStrings(const std::string& name) const {
        return getAs<std::vector<std::string>>(name);
    }
    const Tensor* getTensor(const std::string& name) const;
    std::shared_ptr<Graph> getGraph(const std::string& name) const;

    int64_t getInt(const std::string& name, int64_t fallback) const { return getInt(name).value_or(fallback); }
    float getFloat(const std::string& name, float fallback) const { return getFloat(name).value_or(fallback); }
    std::string getString(const std::string& name, const std::string& fallback) const {
        return getString(name).value_or(fallback);
    }
    std::vector<int64_t> getInts(const std::string& name, std::vector<int64_t> fallback) const {
        return getInts(name).value_or(std::move(fallback));
    }

private:
    template <typename T>
    std::optional<T> getAs(const std::string& name) const {
        auto it = mValues.find(name);
        if (it == mValues.end()) return std::nullopt;
        if (const T* v = std::get_if<T>(&it->second)) return *v;
        return std::nullopt;
    }
    std::map<std::string, AttributeValue> mValues;
};

/// One-line rendering for logs and reports: "[1, 1]", "0.5", "\"SAME_UPPER\"", "<tensor float 3x3>".
std::string attributeToString(const AttributeValue& value);

}  // namespace kiln
