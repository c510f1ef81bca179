// Reading the graph record. The input may be hostile (the checksum only proves the bytes are the
// ones written, not who wrote them): every count is checked against the bytes left before it is
// allocated for, every enum against its range, every value index against the value count.

#include <limits>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/graph_codec.h"
#include "engine/plan_format.h"

namespace kiln {

std::optional<DataType> dataTypeFromCode(int32_t code) {
    auto type = static_cast<DataType>(code);
    switch (type) {
        case DataType::kFLOAT:
        case DataType::kHALF:
        case DataType::kBF16:
        case DataType::kDOUBLE:
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT16:
        case DataType::kUINT16:
        case DataType::kINT32:
        case DataType::kUINT32:
        case DataType::kINT64:
        case DataType::kUINT64:
        case DataType::kBOOL:
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
        case DataType::kINT4:
        case DataType::kUINT4:
        case DataType::kINT2:
        case DataType::kUINT2:
        case DataType::kFP4E2M1:
        case DataType::kSTRING:
            return type;
    }
    return std::nullopt;
}

namespace {

// The fewest bytes each record takes in the file, to bound counts before allocating.
constexpr size_t kMinGraphBytes = 4 + 4 + 4 + 4 + 4;  // name, values, inputs, outputs, nodes
constexpr size_t kMinValueBytes = 4 + 4 + 1 + 4 + 1 + 1;  // name, dtype, typeKnown, dims, kind, hasConstant
constexpr size_t kMinDimBytes = 8 + 4;                // extent, symbol
constexpr size_t kMinNodeBytes = 4 + 3 * 4 + 4 * 4;   // id, 3 strings, 4 counts
constexpr size_t kMinAttributeBytes = 4 + 1 + 4;      // name, kind, smallest value

std::optional<AttributeKind> attributeKindFromCode(uint8_t code) {
    auto kind = static_cast<AttributeKind>(code);
    switch (kind) {
        case AttributeKind::kInt:
        case AttributeKind::kFloat:
        case AttributeKind::kString:
        case AttributeKind::kInts:
        case AttributeKind::kFloats:
        case AttributeKind::kStrings:
        case AttributeKind::kTensor:
        case AttributeKind::kGraph:
        case AttributeKind::kGraphs:
            return kind;
    }
    return std::nullopt;
}

Status readDataType(ByteReader& r, DataType& out) {
    int32_t code = 0;
    KILN_RETURN_IF_ERROR(r.readI32(code));
    auto type = dataTypeFromCode(code);
    if (!type) return r.corrupted("element type code " + std::to_string(code) + " is not a Kiln data type");
    out = *type;
    return Status::ok();
}

Status readTensorRef(ByteReader& r, const LoadedWeights& weights, Tensor& out) {
    DataType dtype{};
    KILN_RETURN_IF_ERROR(readDataType(r, dtype));
    uint32_t rank = 0;
    KILN_RETURN_IF_ERROR(r.readCount(rank, sizeof(int64_t), "tensor dimensions"));
    Shape shape(rank);
    bool hasZero = false;
    for (int64_t& d : shape) {
        KILN_RETURN_IF_ERROR(r.readI64(d));
        if (d < 0) return r.corrupted("tensor dimension " + std::to_string(d) + " is negative");
        hasZero = hasZero || d == 0;
    }
    // The element count must not overflow, nor its byte size: both feed pointer arithmetic later.
    uint64_t elements = hasZero ? 0 : 1;
    const uint64_t maxElements = std::numeric_limits<int64_t>::max() / dataTypeSize(dtype);
    for (int64_t d : shape) {
        if (elements == 0) break;
        if (static_cast<uint64_t>(d) > maxElements / elements)
            return r.corrupted("tensor shape " + shapeToString(shape, true) + " is too large");
        elements *= static_cast<uint64_t>(d);
    }
    if (dtype == DataType::kSTRING) {
        uint32_t count = 0;
        KILN_RETURN_IF_ERROR(r.readCount(count, 4, "strings"));
        if (count != elements)
            return r.corrupted("string tensor " + shapeToString(shape, true) + " holds " + std::to_string(count) +
                               " strings");
        std::vector<std::string> strings(count);
        for (std::string& s : strings) KILN_RETURN_IF_ERROR(r.readString(s));
        out = Tensor::fromStrings(std::vector<std::string_view>(strings.begin(), strings.end()), std::move(shape));
        return Status::ok();
    }
    uint64_t offset = 0;
    uint64_t bytes = 0;
    KILN_RETURN_IF_ERROR(r.readU64(offset));
    KILN_RETURN_IF_ERROR(r.readU64(bytes));
    if (bytes != elements * dataTypeSize(dtype))
        return r.corrupted("tensor of " + std::string(dataTypeName(dtype)) + " " + shapeToString(shape, true) +
                           " claims " + std::to_string(bytes) + " bytes");
    if (offset % kWeightAlignment != 0 || offset > weights.size || bytes > weights.size - offset)
        return r.corrupted("tensor bytes [" + std::to_string(offset) + ", +" + std::to_string(bytes) +
                           ") are not an aligned part of the " + std::to_string(weights.size) +
                           "-byte weights section");
    uint8_t* data = weights.data + offset;
    if (dtype == DataType::kBOOL) {
        // Any other byte would be an invalid bool for every kernel reading it.
        for (uint64_t i = 0; i < bytes; ++i)
            if (data[i] > 1) return r.corrupted("bool tensor holds byte " + std::to_string(data[i]));
    }
    out = Tensor::wrap(dtype, std::move(shape), data, weights.owner);
    return Status::ok();
}

struct ValueRecord {
    std::string name;
    DataType dtype{};
    bool typeKnown{false};
    SymShape shape;
    ContainerType container;
    std::optional<Tensor> constant;
};

Status readShape(ByteReader& r, SymShape& shape) {
    uint32_t rank = 0;
    KILN_RETURN_IF_ERROR(r.readCount(rank, kMinDimBytes, "dimensions"));
    shape.resize(rank);
    for (Dim& d : shape) {
        KILN_RETURN_IF_ERROR(r.readI64(d.value));
        if (d.value < -1) return r.corrupted("dimension extent " + std::to_string(d.value) + " (expected -1 or more)");
        KILN_RETURN_IF_ERROR(r.readString(d.symbol));
    }
    return Status::ok();
}

Status readContainer(ByteReader& r, ContainerType& container) {
    uint8_t kind = 0;
    KILN_RETURN_IF_ERROR(r.readU8(kind));
    if (kind > static_cast<uint8_t>(ValueKind::kOptionalSequence))
        return r.corrupted("value kind " + std::to_string(kind) + " is not a Kiln value kind");
    container.kind = static_cast<ValueKind>(kind);
    if (container.isTensor()) return Status::ok();
    KILN_RETURN_IF_ERROR(readDataType(r, container.elementType));
    bool hasShape = false;
    KILN_RETURN_IF_ERROR(r.readBool(hasShape, "hasElementShape"));
    if (!hasShape) return Status::ok();
    SymShape shape;
    KILN_RETURN_IF_ERROR(readShape(r, shape));
    container.elementShape = std::move(shape);
    return Status::ok();
}

Status readValueRecord(ByteReader& r, const LoadedWeights& weights, ValueRecord& v) {
    KILN_RETURN_IF_ERROR(r.readString(v.name));
    ByteReader::Context context(r, "value '" + v.name + "'");
    KILN_RETURN_IF_ERROR(readDataType(r, v.dtype));
    KILN_RETURN_IF_ERROR(r.readBool(v.typeKnown, "typeKnown"));
    KILN_RETURN_IF_ERROR(readShape(r, v.shape));
    KILN_RETURN_IF_ERROR(readContainer(r, v.container));
    bool hasConstant = false;
    KILN_RETURN_IF_ERROR(r.readBool(hasConstant, "hasConstant"));
    if (hasConstant) {
        Tensor t;
        KILN_RETURN_IF_ERROR(readTensorRef(r, weights, t));
        v.constant = std::move(t);
    }
    return Status::ok();
}

Expected<std::unique_ptr<Graph>> readGraphRecord(ByteReader& r, const LoadedWeights& weights, int depth);

Status readAttribute(ByteReader& r, const LoadedWeights& weights, int depth, AttributeValue& out) {
    uint8_t code = 0;
    KILN_RETURN_IF_ERROR(r.readU8(code));
    auto kind = attributeKindFromCode(code);
    if (!kind) return r.corrupted("attribute kind code " + std::to_string(code) + " is not a Kiln attribute kind");
    switch (*kind) {
        case AttributeKind::kInt: {
            int64_t v = 0;
            KILN_RETURN_IF_ERROR(r.readI64(v));
            out = v;
            return Status::ok();
        }
        case AttributeKind::kFloat: {
            float v = 0;
            KILN_RETURN_IF_ERROR(r.readF32(v));
            out = v;
            return Status::ok();
        }
        case AttributeKind::kString: {
            std::string v;
            KILN_RETURN_IF_ERROR(r.readString(v));
            out = std::move(v);
            return Status::ok();
        }
        case AttributeKind::kInts: {
            uint32_t n = 0;
            KILN_RETURN_IF_ERROR(r.readCount(n, sizeof(int64_t), "ints"));
            std::vector<int64_t> v(n);
            for (int64_t& x : v) KILN_RETURN_IF_ERROR(r.readI64(x));
            out = std::move(v);
            return Status::ok();
        }
        case AttributeKind::kFloats: {
            uint32_t n = 0;
            KILN_RETURN_IF_ERROR(r.readCount(n, sizeof(float), "floats"));
            std::vector<float> v(n);
            for (float& x : v) KILN_RETURN_IF_ERROR(r.readF32(x));
            out = std::move(v);
            return Status::ok();
        }
        case AttributeKind::kStrings: {
            uint32_t n = 0;
            KILN_RETURN_IF_ERROR(r.readCount(n, sizeof(uint32_t), "strings"));
            std::vector<std::string> v(n);
            for (std::string& x : v) KILN_RETURN_IF_ERROR(r.readString(x));
            out = std::move(v);
            return Status::ok();
        }
        case AttributeKind::kTensor: {
            Tensor t;
            KILN_RETURN_IF_ERROR(readTensorRef(r, weights, t));
            out = std::move(t);
            return Status::ok();
        }
        case AttributeKind::kGraph: {
            KILN_ASSIGN_OR_RETURN(std::unique_ptr<Graph> g, readGraphRecord(r, weights, depth + 1));
            out = std::shared_ptr<Graph>(std::move(g));
            return Status::ok();
        }
        case AttributeKind::kGraphs: {
            uint32_t n = 0;
            KILN_RETURN_IF_ERROR(r.readCount(n, kMinGraphBytes, "graphs"));
            std::vector<std::shared_ptr<Graph>> v;
            v.reserve(n);
            for (uint32_t i = 0; i < n; ++i) {
                KILN_ASSIGN_OR_RETURN(std::unique_ptr<Graph> g, readGraphRecord(r, weights, depth + 1));
                v.push_back(std::move(g));
            }
            out = std::move(v);
            return Status::ok();
        }
    }
    return r.corrupted("unreachable attribute kind");
}

// Reads a u32 value index: kNoValue is nullptr where `allowNone`, anything else must be in range.
Status readValueRef(ByteReader& r, const std::vector<Value*>& values, bool allowNone, Value*& out) {
    uint32_t i = 0;
    KILN_RETURN_IF_ERROR(r.readU32(i));
    if (i == kNoValue && allowNone) {
        out = nullptr;
        return Status::ok();
    }
    if (i >= values.size())
        return r.corrupted("value index " + std::to_string(i) + " is out of range (the graph has " +
                           std::to_string(values.size()) + " values)");
    out = values[i];
    return Status::ok();
}

Status readNode(ByteReader& r, const LoadedWeights& weights, int depth, Graph& g, const std::vector<Value*>& values,
                std::unordered_set<int32_t>& nodeIds, std::unordered_set<const Value*>& produced) {
    int32_t id = 0;
    std::string name, opType, domain;
    KILN_RETURN_IF_ERROR(r.readI32(id));
    KILN_RETURN_IF_ERROR(r.readString(name));
    ByteReader::Context context(r, "node " + std::to_string(id) + " '" + name + "'");
    if (id < 0) return r.corrupted("negative node id");
    if (!nodeIds.insert(id).second) return r.corrupted("node id appears twice");
    KILN_RETURN_IF_ERROR(r.readString(opType));
    KILN_RETURN_IF_ERROR(r.readString(domain));

    uint32_t count = 0;
    KILN_RETURN_IF_ERROR(r.readCount(count, sizeof(uint32_t), "inputs"));
    std::vector<Value*> inputs(count);
    for (Value*& v : inputs) KILN_RETURN_IF_ERROR(readValueRef(r, values, true, v));
    KILN_RETURN_IF_ERROR(r.readCount(count, sizeof(uint32_t), "outputs"));
    std::vector<Value*> outputs(count);
    for (Value*& v : outputs) {
        KILN_RETURN_IF_ERROR(readValueRef(r, values, true, v));
        if (v && !produced.insert(v).second) return r.corrupted("value '" + v->name + "' has two producers");
    }
    AttributeMap attrs;
    KILN_RETURN_IF_ERROR(r.readCount(count, kMinAttributeBytes, "attributes"));
    for (uint32_t i = 0; i < count; ++i) {
        std::string attrName;
        KILN_RETURN_IF_ERROR(r.readString(attrName));
        ByteReader::Context attrContext(r, "attribute '" + attrName + "'");
        if (attrs.has(attrName)) return r.corrupted("attribute appears twice");
        AttributeValue value;
        KILN_RETURN_IF_ERROR(readAttribute(r, weights, depth, value));
        attrs.set(attrName, std::move(value));
    }
    KILN_RETURN_IF_ERROR(r.readCount(count, sizeof(uint32_t), "source nodes"));
    std::vector<std::string> sourceNodes(count);
    for (std::string& s : sourceNodes) KILN_RETURN_IF_ERROR(r.readString(s));

    // Outputs are attached here rather than created by addNode: they already exist, with their ids.
    Node* node = g.addNode(opType, name, std::move(inputs), {}, 0);
    node->id = id;
    node->name = std::move(name);
    node->domain = std::move(domain);
    node->outputs = std::move(outputs);
    for (size_t i = 0; i < node->outputs.size(); ++i) {
        if (!node->outputs[i]) continue;
        node->outputs[i]->producer = node;
        node->outputs[i]->producerOutput = static_cast<int32_t>(i);
    }
    node->attrs = std::move(attrs);
    node->sourceNodes = std::move(sourceNodes);
    return Status::ok();
}

Expected<std::unique_ptr<Graph>> readGraphRecord(ByteReader& r, const LoadedWeights& weights, int depth) {
    if (depth > kMaxGraphNesting)
        return r.corrupted("graphs nest deeper than " + std::to_string(kMaxGraphNesting) + " levels");
    auto g = std::make_unique<Graph>();
    KILN_RETURN_IF_ERROR(r.readString(g->name));
    ByteReader::Context context(r, "graph '" + g->name + "'");

    uint32_t valueCount = 0;
    KILN_RETURN_IF_ERROR(r.readCount(valueCount, kMinValueBytes, "values"));
    std::vector<ValueRecord> records(valueCount);
    for (ValueRecord& rec : records) KILN_RETURN_IF_ERROR(readValueRecord(r, weights, rec));
    uint32_t inputCount = 0;
    KILN_RETURN_IF_ERROR(r.readU32(inputCount));
    if (inputCount > valueCount)
        return r.corrupted(std::to_string(inputCount) + " graph inputs but only " + std::to_string(valueCount) +
                           " values");

    // File order is creation order, so the first inputCount values become the inputs in order. A
    // placeholder name keeps Graph from searching for a unique name (quadratic on a hostile file).
    std::vector<Value*> values(valueCount);
    for (uint32_t i = 0; i < valueCount; ++i) {
        ValueRecord& rec = records[i];
        Value* v = i < inputCount ? g->addInput("v", rec.dtype, std::move(rec.shape)) : g->addValue("v", rec.dtype);
        if (i >= inputCount) v->shape = std::move(rec.shape);
        v->name = std::move(rec.name);
        v->typeKnown = rec.typeKnown;
        v->container = std::move(rec.container);
        v->constant = std::move(rec.constant);
        values[i] = v;
    }

    uint32_t count = 0;
    KILN_RETURN_IF_ERROR(r.readCount(count, sizeof(uint32_t), "graph outputs"));
    for (uint32_t i = 0; i < count; ++i) {
        Value* v = nullptr;
        KILN_RETURN_IF_ERROR(readValueRef(r, values, false, v));
        g->markOutput(v);
    }
    KILN_RETURN_IF_ERROR(r.readCount(count, kMinNodeBytes, "nodes"));
    std::unordered_set<int32_t> nodeIds;
    std::unordered_set<const Value*> produced;
    for (uint32_t i = 0; i < count; ++i)
        KILN_RETURN_IF_ERROR(readNode(r, weights, depth, *g, values, nodeIds, produced));
    return g;
}

}  // namespace

Expected<std::unique_ptr<Graph>> readGraph(ByteReader& reader, const LoadedWeights& weights) {
    return readGraphRecord(reader, weights, 0);
}

}  // namespace kiln
