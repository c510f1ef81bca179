#pragma once
// Engine plan <-> engine file bytes (layout: plan_format.h). Every failure to read says what was
// expected and what was found; no input, however malformed, crashes or allocates without bound.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/plan.h"

namespace kiln {

/// The header of an engine file, readable without deserializing the rest.
struct PlanHeader {
    uint32_t formatVersion{0};
    std::string kilnVersion;
    std::string backend;
    std::string target;
    uint64_t payloadBytes{0};
    uint64_t checksum{0};
    /// The size the whole file must have.
    uint64_t fileBytes{0};
};

/// Reads the header only (for `kiln exec --getPlanVersionOnly` and `kiln inspect`): checks the
/// magic, that the header fits in `size` bytes and the format version. `size` may be just a prefix
/// of the file that holds the header; the payload is neither read nor checked.
Expected<PlanHeader> readPlanHeader(const void* data, size_t size);

/// The engine file for `plan`, written by this Kiln version.
Expected<std::vector<uint8_t>> serializePlan(const EnginePlan& plan);

/// Reads a whole engine file: checks the magic, header bounds, format version, file size, checksum
/// and Kiln version, then every section. The target is not checked here: the runtime compares it
/// with the backend it has. Weights are one aligned copy of the weights section that every constant
/// wraps (and keeps alive); `data` may be freed afterwards.
Expected<EnginePlan> deserializePlan(const void* data, size_t size);

}  // namespace kiln
