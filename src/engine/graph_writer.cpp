// Writing the graph record and laying out the weights section.

#include <cstring>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/graph_codec.h"
#include "engine/plan_format.h"

namespace kiln {

uint64_t WeightsLayout::place(const Tensor& tensor) {
    size_t bytes = tensor.byteSize();
    if (bytes == 0) return 0;
    auto key = std::make_pair(tensor.data(), bytes);
    auto it = mOffsets.find(key);
    if (it != mOffsets.end()) return it->second;
    uint64_t offset = (mTotalBytes + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
    mEntries.push_back({tensor.data(), bytes, offset});
    mOffsets.emplace(key, offset);
    mTotalBytes = offset + bytes;
    return offset;
}

void WeightsLayout::copyTo(uint8_t* dst) const {
    for (const Entry& e : mEntries) std::memcpy(dst + e.offset, e.data, e.bytes);
}

namespace {

Status writeGraphRecord(ByteWriter& w, const Graph& graph, WeightsLayout& weights, int depth);

void writeShape(ByteWriter& w, const Shape& shape) {
    w.writeCount(shape.size());
    for (int64_t d : shape) w.writeI64(d);
}

Status writeTensorRef(ByteWriter& w, const Tensor& tensor, WeightsLayout& weights, const std::string& what) {
    if (tensor.empty()) return internalError("engine serialization: " + what + " is a tensor without data");
    w.writeI32(static_cast<int32_t>(tensor.dtype()));
    writeShape(w, tensor.shape());
    if (tensor.dtype() == DataType::kSTRING) {
        // The views are addresses of this process: the bytes travel, each length-prefixed, and
        // the reader builds new views over its own copy.
        std::vector<std::string_view> strings = tensor.strings();
        w.writeCount(strings.size());
        for (std::string_view s : strings) w.writeString(s);
        return Status::ok();
    }
    w.writeU64(weights.place(tensor));
    w.writeU64(tensor.byteSize());
    return Status::ok();
}

Status writeAttribute(ByteWriter& w, const AttributeValue& value, WeightsLayout& weights, const std::string& what,
                      int depth) {
    return std::visit(
        [&](const auto& v) -> Status {
            using T = std::decay_t<decltype(v)>;
            auto kind = [&](AttributeKind k) { w.writeU8(static_cast<uint8_t>(k)); };
            if constexpr (std::is_same_v<T, int64_t>) {
                kind(AttributeKind::kInt);
                w.writeI64(v);
            } else if constexpr (std::is_same_v<T, float>) {
                kind(AttributeKind::kFloat);
                w.writeF32(v);
            } else if constexpr (std::is_same_v<T, std::string>) {
                kind(AttributeKind::kString);
                w.writeString(v);
            } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
                kind(AttributeKind::kInts);
                w.writeCount(v.size());
                for (int64_t x : v) w.writeI64(x);
            } else if constexpr (std::is_same_v<T, std::vector<float>>) {
                kind(AttributeKind::kFloats);
                w.writeCount(v.size());
                for (float x : v) w.writeF32(x);
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                kind(AttributeKind::kStrings);
                w.writeCount(v.size());
                for (const std::string& x : v) w.writeString(x);
            } else if constexpr (std::is_same_v<T, Tensor>) {
                kind(AttributeKind::kTensor);
                return writeTensorRef(w, v, weights, what);
            } else if constexpr (std::is_same_v<T, std::shared_ptr<Graph>>) {
                if (!v) return internalError("engine serialization: " + what + " is a null graph");
                kind(AttributeKind::kGraph);
                return writeGraphRecord(w, *v, weights, depth + 1);
            } else {
                static_assert(std::is_same_v<T, std::vector<std::shared_ptr<Graph>>>, "unhandled AttributeValue kind");
                kind(AttributeKind::kGraphs);
                w.writeCount(v.size());
                for (const auto& g : v) {
                    if (!g) return internalError("engine serialization: " + what + " holds a null graph");
                    KILN_RETURN_IF_ERROR(writeGraphRecord(w, *g, weights, depth + 1));
                }
            }
            return Status::ok();
        },
        value);
}

// Values are written graph inputs first (in input order), then the others by id: reading creates
// them in file order, which restores the input order and makes a re-serialized plan byte-identical.
Status indexValues(const Graph& graph, std::vector<const Value*>& order,
                   std::unordered_map<const Value*, uint32_t>& index) {
    std::unordered_set<const Value*> owned;
    for (const auto& v : graph.values())
        if (v) owned.insert(v.get());
    auto add = [&](const Value* v) {
        index.emplace(v, static_cast<uint32_t>(order.size()));
        order.push_back(v);
    };
    for (const Value* in : graph.inputs()) {
        if (!in || !owned.count(in))
            return internalError("engine serialization: graph '" + graph.name +
                                 "' has an input that is not one of its values");
        if (index.count(in))
            return internalError("engine serialization: graph '" + graph.name + "' lists input '" + in->name +
                                 "' twice");
        add(in);
    }
    for (const auto& v : graph.values())
        if (v && !index.count(v.get())) add(v.get());
    return Status::ok();
}

Status writeGraphRecord(ByteWriter& w, const Graph& graph, WeightsLayout& weights, int depth) {
    if (depth > kMaxGraphNesting)
        return unsupported("engine serialization: graphs nest deeper than " + std::to_string(kMaxGraphNesting) +
                           " levels");
    std::vector<const Value*> order;
    std::unordered_map<const Value*, uint32_t> index;
    KILN_RETURN_IF_ERROR(indexValues(graph, order, index));
    auto ref = [&](const Value* v, uint32_t& out) {
        if (!v) {
            out = kNoValue;
            return true;
        }
        auto it = index.find(v);
        if (it == index.end()) return false;
        out = it->second;
        return true;
    };

    w.writeString(graph.name);
    w.writeCount(order.size());
    for (const Value* v : order) {
        w.writeString(v->name);
        w.writeI32(static_cast<int32_t>(v->dtype));
        w.writeU8(v->typeKnown ? 1 : 0);
        w.writeCount(v->shape.size());
        auto writeShape = [&](const SymShape& shape) {
            w.writeCount(shape.size());
            for (const Dim& d : shape) {
                w.writeI64(d.value);
                w.writeString(d.symbol);
            }
        };
        for (const Dim& d : v->shape) {
            w.writeI64(d.value);
            w.writeString(d.symbol);
        }
        w.writeU8(static_cast<uint8_t>(v->container.kind));
        if (!v->container.isTensor()) {
            w.writeI32(static_cast<int32_t>(v->container.elementType));
            w.writeU8(v->container.elementShape ? 1 : 0);
            if (v->container.elementShape) writeShape(*v->container.elementShape);
        }
        w.writeU8(v->isConstant() ? 1 : 0);
        if (v->isConstant())
            KILN_RETURN_IF_ERROR(writeTensorRef(w, *v->constant, weights, "constant '" + v->name + "'"));
    }
    w.writeCount(graph.inputs().size());
    w.writeCount(graph.outputs().size());
    for (const Value* out : graph.outputs()) {
        uint32_t i = 0;
        if (!out || !ref(out, i))
            return internalError("engine serialization: graph '" + graph.name +
                                 "' has an output that is not one of its values");
        w.writeU32(i);
    }
    w.writeCount(graph.nodes().size());
    for (const auto& node : graph.nodes()) {
        w.writeI32(node->id);
        w.writeString(node->name);
        w.writeString(node->opType);
        w.writeString(node->domain);
        for (const auto* list : {&node->inputs, &node->outputs}) {
            w.writeCount(list->size());
            for (const Value* v : *list) {
                uint32_t i = 0;
                if (!ref(v, i))
                    return internalError("engine serialization: " + node->describe() + " uses value '" + v->name +
                                         "', which is not in graph '" + graph.name + "'");
                w.writeU32(i);
            }
        }
        w.writeCount(node->attrs.all().size());
        for (const auto& [name, value] : node->attrs.all()) {
            w.writeString(name);
            KILN_RETURN_IF_ERROR(
                writeAttribute(w, value, weights, node->describe() + " attribute '" + name + "'", depth));
        }
        w.writeCount(node->sourceNodes.size());
        for (const std::string& s : node->sourceNodes) w.writeString(s);
    }
    return Status::ok();
}

}  // namespace

Status writeGraph(ByteWriter& writer, const Graph& graph, WeightsLayout& weights) {
    return writeGraphRecord(writer, graph, weights, 0);
}

}  // namespace kiln
