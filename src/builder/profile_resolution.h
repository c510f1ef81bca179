#pragma once
// Turns the user's optimization profiles into concrete min/opt/max shapes for every input,
// checking them against the network: a dynamic input with no profile is an error naming it.

#include <vector>

#include "common/status.h"
#include "engine/plan.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "kiln/builder.h"

namespace kiln {

Expected<std::vector<ProfileShapes>> resolveProfiles(const Graph& graph, const BuilderConfig& config);

/// Concrete shape inference of `graph` at one point of a profile (its input shapes and shape-tensor
/// values), as an execution context does it: every value's type and shape, by value id.
Expected<std::vector<ValueInfo>> inferAtProfile(const Graph& graph, const ProfileShapes& profile,
                                                OptProfileSelector select);

/// The contents of a shape-tensor input (int32 or int64) at one profile point.
Tensor shapeTensorValue(DataType dtype, const Shape& shape, const std::vector<int64_t>& values);

}  // namespace kiln
