#pragma once
// Attribute readers shared by the normalization ops' inference and their CPU kernels, so both
// agree on defaults and validation. Errors carry no node context (the caller adds it).

#include <cstdint>
#include <optional>
#include <vector>

#include "common/status.h"
#include "ir/attribute.h"

namespace kiln {

/// The floating DataType an ONNX element-type code (stash_type) names; nullopt for others.
std::optional<DataType> stashDataType(int64_t onnxElementType);

/// The `axis` attribute (default -1) of LayerNormalization / LpNormalization, normalized for `rank`.
Expected<int64_t> layerNormAxis(const AttributeMap& attrs, int64_t rank);

/// MeanVarianceNormalization's `axes` (default [0, 2, 3]), normalized and checked for repeats.
Expected<std::vector<int64_t>> mvnAxes(const AttributeMap& attrs, int64_t rank);

}  // namespace kiln
