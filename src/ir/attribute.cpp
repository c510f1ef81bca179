#include "ir/attribute.h"

#include <sstream>

#include "ir/graph.h"

namespace kiln {

std::optional<float> AttributeMap::getFloat(const std::string& name) const {
    const AttributeValue* v = find(name);
    if (!v) return std::nullopt;
    if (const float* f = std::get_if<float>(v)) return *f;
    if (const int64_t* i = std::get_if<int64_t>(v)) return static_cast<float>(*i);
    return std::nullopt;
}

const Tensor* AttributeMap::getTensor(const std::string& name) const {
    const AttributeValue* v = find(name);
    return v ? std::get_if<Tensor>(v) : nullptr;
}

std::shared_ptr<Graph> AttributeMap::getGraph(const std::string& name) const {
    const AttributeValue* v = find(name);
    if (!v) return nullptr;
    if (const auto* g = std::get_if<std::shared_ptr<Graph>>(v)) return *g;
    return nullptr;
}

namespace {
template <typename T>
void writeList(std::ostringstream& oss, const std::vector<T>& values) {
    oss << '[';
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) oss << ", ";
        if constexpr (std::is_same_v<T, std::string>)
            oss << '"' << values[i] << '"';
        else
            oss << values[i];
    }
    oss << ']';
}
}  // namespace

std::string attributeToString(const AttributeValue& value) {
    std::ostringstream oss;
    std::visit(
        [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, int64_t> || std::is_same_v<V, float>) {
                oss << v;
            } else if constexpr (std::is_same_v<V, std::string>) {
                oss << '"' << v << '"';
            } else if constexpr (std::is_same_v<V, Tensor>) {
                oss << "<tensor " << dataTypeName(v.dtype()) << ' ' << shapeToString(v.shape()) << '>';
            } else if constexpr (std::is_same_v<V, std::shared_ptr<Graph>>) {
                oss << "<graph " << (v ? v->nodes().size() : 0) << " nodes>";
            } else if constexpr (std::is_same_v<V, std::vector<std::shared_ptr<Graph>>>) {
                oss << "<" << v.size() << " graphs>";
            } else {
                writeList(oss, v);
            }
        },
        value);
    return oss.str();
}

}  // namespace kiln
