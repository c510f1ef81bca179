// Whole-plan serialization: the header, the section table and the sections around them.

#include "engine/plan_serializer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <unordered_set>

#include "engine/byte_io.h"
#include "engine/graph_codec.h"
#include "engine/plan_checksum.h"
#include "engine/plan_format.h"
#include "engine/plan_tables.h"
#include "kiln/builder.h"

namespace kiln {

namespace {

uint64_t roundUp(uint64_t v, uint64_t alignment) {
    return (v + alignment - 1) / alignment * alignment;
}

const char* sectionName(PlanSectionId id) {
    switch (id) {
        case PlanSectionId::kGraph:
            return "graph";
        case PlanSectionId::kWeights:
            return "weights";
        case PlanSectionId::kProfiles:
            return "profiles";
        case PlanSectionId::kLayers:
            return "layers";
        case PlanSectionId::kMemory:
            return "memory";
    }
    return "unknown";
}

std::optional<PlanSectionId> sectionIdFromCode(uint32_t code) {
    auto id = static_cast<PlanSectionId>(code);
    switch (id) {
        case PlanSectionId::kGraph:
        case PlanSectionId::kWeights:
        case PlanSectionId::kProfiles:
        case PlanSectionId::kLayers:
        case PlanSectionId::kMemory:
            return id;
    }
    return std::nullopt;
}

constexpr PlanSectionId kAllSections[] = {PlanSectionId::kGraph, PlanSectionId::kProfiles, PlanSectionId::kLayers,
                                          PlanSectionId::kMemory, PlanSectionId::kWeights};
constexpr size_t kSectionCount = std::size(kAllSections);

size_t sectionIndex(PlanSectionId id) {
    for (size_t i = 0; i < kSectionCount; ++i)
        if (kAllSections[i] == id) return i;
    return kSectionCount;
}

struct SectionSpan {
    const uint8_t* data{nullptr};
    size_t size{0};
    bool present{false};
};

Status readSectionTable(const uint8_t* payload, size_t payloadBytes, SectionSpan (&spans)[kSectionCount]) {
    ByteReader r(payload, payloadBytes, "section table");
    uint32_t count = 0;
    KILN_RETURN_IF_ERROR(r.readCount(count, kSectionEntryBytes, "sections"));
    for (uint32_t i = 0; i < count; ++i) {
        uint32_t code = 0, alignment = 0;
        uint64_t offset = 0, size = 0;
        KILN_RETURN_IF_ERROR(r.readU32(code));
        KILN_RETURN_IF_ERROR(r.readU32(alignment));
        KILN_RETURN_IF_ERROR(r.readU64(offset));
        KILN_RETURN_IF_ERROR(r.readU64(size));
        ByteReader::Context context(r, "section " + std::to_string(i) + " (id " + std::to_string(code) + ")");
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            return r.corrupted("alignment " + std::to_string(alignment) + " is not a power of two");
        if (offset % alignment != 0)
            return r.corrupted("offset " + std::to_string(offset) + " is not a multiple of its alignment " +
                               std::to_string(alignment));
        if (offset > payloadBytes || size > payloadBytes - offset)
            return r.corrupted("bytes [" + std::to_string(offset) + ", +" + std::to_string(size) +
                               ") lie outside the " + std::to_string(payloadBytes) + "-byte payload");
        auto id = sectionIdFromCode(code);
        if (!id) continue;  // a section added later, which this reader does not need
        SectionSpan& span = spans[sectionIndex(*id)];
        if (span.present) return r.corrupted(std::string("a second '") + sectionName(*id) + "' section");
        span = {payload + offset, static_cast<size_t>(size), true};
    }
    for (size_t i = 0; i < kSectionCount; ++i)
        if (!spans[i].present)
            return invalidEngine(std::string("engine is corrupted: it has no '") + sectionName(kAllSections[i]) +
                                 "' section");
    return Status::ok();
}

// One aligned copy of the weights section, which every tensor of the graph will wrap.
Expected<LoadedWeights> loadWeights(const SectionSpan& span) {
    size_t allocated = roundUp(std::max<size_t>(span.size, 1), kWeightAlignment);
    void* p = std::aligned_alloc(kWeightAlignment, allocated);
    if (!p)
        return Status(StatusCode::kOutOfMemory,
                      "out of memory loading the engine's " + std::to_string(span.size) + " bytes of weights");
    auto* bytes = static_cast<uint8_t*>(p);
    if (span.size) std::memcpy(bytes, span.data, span.size);
    std::memset(bytes + span.size, 0, allocated - span.size);
    return LoadedWeights{bytes, span.size, std::shared_ptr<void>(p, [](void* q) { std::free(q); })};
}

std::string hex(uint64_t v) {
    char buf[19];
    std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

Expected<std::vector<uint8_t>> serializePlan(const EnginePlan& plan) {
    if (!plan.graph) return internalError("engine serialization: the plan has no graph");
    std::unordered_set<int32_t> nodeIds;
    for (const auto& node : plan.graph->nodes()) nodeIds.insert(node->id);
    for (const auto& [nodeId, decision] : plan.layers)
        if (!nodeIds.count(nodeId))
            return internalError("engine serialization: a layer entry names node " + std::to_string(nodeId) +
                                 ", which is not in the graph");

    WeightsLayout weights;
    ByteWriter sections[kSectionCount];
    KILN_RETURN_IF_ERROR(writeGraph(sections[sectionIndex(PlanSectionId::kGraph)], *plan.graph, weights));
    writeProfiles(sections[sectionIndex(PlanSectionId::kProfiles)], plan.profiles);
    writeLayers(sections[sectionIndex(PlanSectionId::kLayers)], plan.layers);
    writeMemory(sections[sectionIndex(PlanSectionId::kMemory)], plan.activationBytesPerProfile);
    for (const ByteWriter& w : sections) KILN_RETURN_IF_ERROR(w.status());

    ByteWriter strings;
    strings.writeString(getVersion());
    strings.writeString(plan.backend);
    strings.writeString(plan.target);
    KILN_RETURN_IF_ERROR(strings.status());
    uint64_t headerBytes = kPlanStringsOffset + strings.size();
    if (headerBytes > UINT32_MAX) return internalError("engine serialization: the header exceeds 4 GiB");
    uint64_t payloadOffset = roundUp(headerBytes, kPayloadAlignment);

    // Layout: the table, then each section at its alignment. The weights section goes last and is
    // copied from the tensors straight into the file, so the file is the only copy made.
    ByteWriter table;
    table.writeCount(kSectionCount);
    uint64_t cursor = sizeof(uint32_t) + kSectionCount * kSectionEntryBytes;
    uint64_t offsets[kSectionCount];
    for (size_t i = 0; i < kSectionCount; ++i) {
        bool isWeights = kAllSections[i] == PlanSectionId::kWeights;
        uint64_t alignment = isWeights ? kWeightAlignment : kSectionAlignment;
        uint64_t size = isWeights ? weights.totalBytes() : sections[i].size();
        offsets[i] = roundUp(cursor, alignment);
        cursor = offsets[i] + size;
        table.writeU32(static_cast<uint32_t>(kAllSections[i]));
        table.writeU32(static_cast<uint32_t>(alignment));
        table.writeU64(offsets[i]);
        table.writeU64(size);
    }
    uint64_t payloadBytes = cursor;

    std::vector<uint8_t> file(payloadOffset + payloadBytes, 0);
    uint8_t* payload = file.data() + payloadOffset;
    std::memcpy(payload, table.bytes().data(), table.size());
    for (size_t i = 0; i < kSectionCount; ++i) {
        if (kAllSections[i] == PlanSectionId::kWeights)
            weights.copyTo(payload + offsets[i]);
        else if (sections[i].size())
            std::memcpy(payload + offsets[i], sections[i].bytes().data(), sections[i].size());
    }

    ByteWriter header;
    header.writeBytes(kPlanMagic, sizeof(kPlanMagic));
    header.writeU32(kPlanFormatVersion);
    header.writeU32(static_cast<uint32_t>(headerBytes));
    header.writeU64(payloadOffset);
    header.writeU64(payloadBytes);
    header.writeU64(planChecksum(payload, payloadBytes));
    header.writeBytes(strings.bytes().data(), strings.size());
    std::memcpy(file.data(), header.bytes().data(), header.size());
    return file;
}

Expected<EnginePlan> deserializePlan(const void* data, size_t size) {
    KILN_ASSIGN_OR_RETURN(PlanHeader header, readPlanHeader(data, size));
    const auto* file = static_cast<const uint8_t*>(data);
    if (header.fileBytes > size)
        return invalidEngine("engine is truncated: header says " + std::to_string(header.fileBytes) +
                             " bytes, file has " + std::to_string(size));
    if (header.fileBytes < size)
        return invalidEngine("engine has " + std::to_string(size - header.fileBytes) +
                             " unexpected bytes after its end: header says " + std::to_string(header.fileBytes) +
                             " bytes, file has " + std::to_string(size));
    size_t payloadOffset = static_cast<size_t>(header.fileBytes - header.payloadBytes);
    // readPlanHeader checked that the three strings end exactly where the header ends.
    size_t headerBytes = kPlanStringsOffset + 3 * sizeof(uint32_t) + header.kilnVersion.size() + header.backend.size() +
                         header.target.size();
    for (size_t i = headerBytes; i < payloadOffset; ++i)
        if (file[i] != 0)
            return invalidEngine("engine is corrupted: padding byte " + std::to_string(i) + " after the header is " +
                                 std::to_string(file[i]) + " (expected 0)");
    const uint8_t* payload = file + payloadOffset;
    size_t payloadBytes = static_cast<size_t>(header.payloadBytes);
    uint64_t computed = planChecksum(payload, payloadBytes);
    if (computed != header.checksum)
        return invalidEngine("engine is corrupted: checksum mismatch (expected " + hex(header.checksum) +
                             ", computed " + hex(computed) + ")");
    if (header.kilnVersion != getVersion())
        return invalidEngine("engine was built by Kiln " + header.kilnVersion + ", this is Kiln " + getVersion() +
                             ": rebuild the engine");

    SectionSpan spans[kSectionCount];
    KILN_RETURN_IF_ERROR(readSectionTable(payload, payloadBytes, spans));
    auto span = [&](PlanSectionId id) -> const SectionSpan& { return spans[sectionIndex(id)]; };

    EnginePlan plan;
    plan.backend = header.backend;
    plan.target = header.target;
    KILN_ASSIGN_OR_RETURN(LoadedWeights weights, loadWeights(span(PlanSectionId::kWeights)));
    {
        ByteReader r(span(PlanSectionId::kGraph).data, span(PlanSectionId::kGraph).size, "graph section");
        KILN_ASSIGN_OR_RETURN(plan.graph, readGraph(r, weights));
        if (r.remaining() != 0) return r.corrupted(std::to_string(r.remaining()) + " unexpected bytes at the end");
    }
    std::unordered_set<int32_t> nodeIds;
    for (const auto& node : plan.graph->nodes()) nodeIds.insert(node->id);
    ByteReader profiles(span(PlanSectionId::kProfiles).data, span(PlanSectionId::kProfiles).size, "profiles section");
    KILN_RETURN_IF_ERROR(readProfiles(profiles, plan.profiles));
    ByteReader layers(span(PlanSectionId::kLayers).data, span(PlanSectionId::kLayers).size, "layers section");
    KILN_RETURN_IF_ERROR(readLayers(layers, nodeIds, plan.layers));
    ByteReader memory(span(PlanSectionId::kMemory).data, span(PlanSectionId::kMemory).size, "memory section");
    KILN_RETURN_IF_ERROR(readMemory(memory, plan.activationBytesPerProfile));
    return plan;
}

}  // namespace kiln
