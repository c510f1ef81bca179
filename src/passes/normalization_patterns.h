#pragma once
// What the LayerNorm and RMSNorm fusions (layer_norm_fusion.h, rms_norm_fusion.h) both read in a written-out
// normalization: the reduced trailing axes, and the per-element scale and bias constants over them.

#include <optional>

#include "ir/graph.h"

namespace kiln {

/// The first normalized axis when `reduce` is a keepdims ReduceMean over the trailing axes of a
/// rank-`rank` tensor; nullopt otherwise.
std::optional<int64_t> trailingAxes(const Node& reduce, int64_t rank);

/// The dims of `x` from `axis` on, when all are known.
std::optional<Shape> normalizedShape(const Value* x, int64_t axis);

/// Whether `c` is a constant of `x`'s type whose shape equals the normalized (trailing) dims of `x`.
bool matchesNormalizedShape(const Value* c, const Value* x, int64_t axis);

/// A tensor of ones (a normalization's scale when the pattern has none).
Tensor onesLike(DataType type, const Shape& shape);

}  // namespace kiln
