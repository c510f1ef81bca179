#pragma once
// The small sections of the engine file: "profiles", "layers" and "memory" (layout: plan_format.h).

#include <cstdint>
#include <map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "engine/byte_io.h"
#include "engine/plan.h"

namespace kiln {

void writeProfiles(ByteWriter& writer, const std::vector<ProfileShapes>& profiles);
void writeLayers(ByteWriter& writer, const std::map<int32_t, LayerDecision>& layers);
void writeMemory(ByteWriter& writer, const std::vector<uint64_t>& activationBytesPerProfile);

/// Each reader consumes its whole section and refuses trailing bytes.
Status readProfiles(ByteReader& reader, std::vector<ProfileShapes>& profiles);
/// Every entry must name one of `nodeIds` (the top-level graph's nodes).
Status readLayers(ByteReader& reader, const std::unordered_set<int32_t>& nodeIds,
                  std::map<int32_t, LayerDecision>& layers);
Status readMemory(ByteReader& reader, std::vector<uint64_t>& activationBytesPerProfile);

}  // namespace kiln
