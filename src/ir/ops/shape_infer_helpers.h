#pragma once
// Helpers shared by the shape and tensor (data movement) op families' inference functions:
// symbolic products of dimensions, reading small integer inputs, and input checks.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/op_registry.h"

namespace kiln::shapeinfer {

/// Product of shape[begin, end): known when every factor is known; the one symbolic/unknown factor
/// when all the others are known 1s (so Flatten of (batch, 1, 1) keeps "batch"); otherwise unknown.
Dim dimProduct(const SymShape& shape, size_t begin, size_t end);

/// The axes [first, second) of a rank-`rank` input that a Shape node with these attributes reports:
/// `start` and `end` clamped to [0, rank] (the spec's rule, not an error); second <= first when none.
std::pair<int64_t, int64_t> shapeOpRange(const AttributeMap& attrs, int64_t rank);
/// Transpose's permutation: its perm attribute, or the axes reversed (ONNX's default) for `rank`.
std::vector<int64_t> transposePerm(const std::optional<std::vector<int64_t>>& perm, size_t rank);

/// Sum of dims: known when all are known; the one non-known dim when the others are known 0s.
Dim dimSum(const std::vector<Dim>& dims);

/// Two dims that the op requires to be equal: a known extent wins, then a named symbol. Nullopt when
/// both are known and differ.
std::optional<Dim> mergeEqualDims(const Dim& a, const Dim& b);

/// `info` with its rank-4 shape permuted by `perm` (a channels-last layer's NCHW view, or back); its
/// contents, which are in the other layout, are dropped.
ValueInfo permutedInfo(const ValueInfo& info, const std::array<int64_t, 4>& perm);

/// The contents of input `index` as int64 when known at this point, else nullopt.
std::optional<std::vector<int64_t>> knownInts(const InferenceContext& ctx, size_t index);

/// Checks that input `index` is an integer tensor of rank 1 (or a scalar when `allowScalar`), naming
/// the input as `what` in the error.
Status checkIntVectorInput(const InferenceContext& ctx, size_t index, const std::string& what,
                           bool allowScalar = false);

/// Checks that input `index` has rank 0, or rank 1 with one element (older exporters write [1]).
Status checkScalarInput(const InferenceContext& ctx, size_t index, const std::string& what);

/// Normalizes `axes` against `rank`; fails on an out-of-range or repeated axis.
Status normalizeAxes(const InferenceContext& ctx, std::vector<int64_t>& axes, int64_t rank, const std::string& what);

}  // namespace kiln::shapeinfer
