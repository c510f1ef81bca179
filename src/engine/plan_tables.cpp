#include "engine/plan_tables.h"

#include "engine/graph_codec.h"

namespace kiln {

namespace {

constexpr size_t kMinProfileBytes = 4 + 4;           // inputs count, shape-value inputs count
constexpr size_t kMinProfileInputBytes = 4 + 3 * 4;  // name, three dims counts
constexpr size_t kMinLayerBytes = 4 + 4 + 4;         // node id, tactic, precision

Status expectEnd(ByteReader& r) {
    if (r.remaining() != 0) return r.corrupted(std::to_string(r.remaining()) + " unexpected bytes at the end");
    return Status::ok();
}

}  // namespace

void writeProfiles(ByteWriter& w, const std::vector<ProfileShapes>& profiles) {
    w.writeCount(profiles.size());
    for (const ProfileShapes& profile : profiles) {
        w.writeCount(profile.inputs.size());
        for (const auto& [name, shapes] : profile.inputs) {
            w.writeString(name);
            for (const Shape& shape : shapes) {
                w.writeCount(shape.size());
                for (int64_t d : shape) w.writeI64(d);
            }
        }
        w.writeCount(profile.shapeValues.size());
        for (const auto& [name, values] : profile.shapeValues) {
            w.writeString(name);
            for (const std::vector<int64_t>& v : values) {
                w.writeCount(v.size());
                for (int64_t x : v) w.writeI64(x);
            }
        }
    }
}

void writeLayers(ByteWriter& w, const std::map<int32_t, LayerDecision>& layers) {
    w.writeCount(layers.size());
    for (const auto& [nodeId, decision] : layers) {
        w.writeI32(nodeId);
        w.writeString(decision.tactic);
        w.writeI32(static_cast<int32_t>(decision.precision));
    }
}

void writeMemory(ByteWriter& w, const std::vector<uint64_t>& activationBytesPerProfile) {
    w.writeCount(activationBytesPerProfile.size());
    for (uint64_t bytes : activationBytesPerProfile) w.writeU64(bytes);
}

Status readProfiles(ByteReader& r, std::vector<ProfileShapes>& profiles) {
    uint32_t count = 0;
    KILN_RETURN_IF_ERROR(r.readCount(count, kMinProfileBytes, "profiles"));
    profiles.resize(count);
    for (uint32_t p = 0; p < count; ++p) {
        ByteReader::Context context(r, "profile " + std::to_string(p));
        uint32_t inputs = 0;
        KILN_RETURN_IF_ERROR(r.readCount(inputs, kMinProfileInputBytes, "inputs"));
        for (uint32_t i = 0; i < inputs; ++i) {
            std::string name;
            KILN_RETURN_IF_ERROR(r.readString(name));
            ByteReader::Context inputContext(r, "input '" + name + "'");
            if (profiles[p].inputs.count(name)) return r.corrupted("input appears twice");
            std::array<Shape, 3>& shapes = profiles[p].inputs[name];
            for (Shape& shape : shapes) {
                uint32_t rank = 0;
                KILN_RETURN_IF_ERROR(r.readCount(rank, sizeof(int64_t), "dimensions"));
                shape.resize(rank);
                for (int64_t& d : shape) KILN_RETURN_IF_ERROR(r.readI64(d));
            }
        }
        uint32_t valueInputs = 0;
        KILN_RETURN_IF_ERROR(r.readCount(valueInputs, kMinProfileInputBytes, "shape-value inputs"));
        for (uint32_t i = 0; i < valueInputs; ++i) {
            std::string name;
            KILN_RETURN_IF_ERROR(r.readString(name));
            ByteReader::Context inputContext(r, "shape values of '" + name + "'");
            if (profiles[p].shapeValues.count(name)) return r.corrupted("input appears twice");
            for (std::vector<int64_t>& values : profiles[p].shapeValues[name]) {
                uint32_t n = 0;
                KILN_RETURN_IF_ERROR(r.readCount(n, sizeof(int64_t), "values"));
                values.resize(n);
                for (int64_t& x : values) KILN_RETURN_IF_ERROR(r.readI64(x));
            }
        }
    }
    return expectEnd(r);
}

Status readLayers(ByteReader& r, const std::unordered_set<int32_t>& nodeIds, std::map<int32_t, LayerDecision>& layers) {
    uint32_t count = 0;
    KILN_RETURN_IF_ERROR(r.readCount(count, kMinLayerBytes, "layers"));
    for (uint32_t i = 0; i < count; ++i) {
        int32_t nodeId = 0;
        KILN_RETURN_IF_ERROR(r.readI32(nodeId));
        ByteReader::Context context(r, "layer of node " + std::to_string(nodeId));
        if (!nodeIds.count(nodeId)) return r.corrupted("the graph has no such node");
        if (layers.count(nodeId)) return r.corrupted("the node has two layer entries");
        LayerDecision decision;
        KILN_RETURN_IF_ERROR(r.readString(decision.tactic));
        int32_t code = 0;
        KILN_RETURN_IF_ERROR(r.readI32(code));
        auto precision = dataTypeFromCode(code);
        if (!precision) return r.corrupted("precision code " + std::to_string(code) + " is not a Kiln data type");
        decision.precision = *precision;
        layers.emplace(nodeId, std::move(decision));
    }
    return expectEnd(r);
}

Status readMemory(ByteReader& r, std::vector<uint64_t>& activationBytesPerProfile) {
    uint32_t count = 0;
    KILN_RETURN_IF_ERROR(r.readCount(count, sizeof(uint64_t), "profiles"));
    activationBytesPerProfile.resize(count);
    for (uint64_t& bytes : activationBytesPerProfile) KILN_RETURN_IF_ERROR(r.readU64(bytes));
    return expectEnd(r);
}

}  // namespace kiln
