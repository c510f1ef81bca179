#pragma once
// Rules shared by the ReduceX ops' inference and their CPU kernels: which types each accepts and
// which axes a node reduces.

#include <cstdint>
#include <string>

#include "common/status.h"
#include "kiln/types.h"

namespace kiln {

/// ReduceMax / ReduceMin (which also take int8, uint8 and bool).
bool isMinMaxReduction(const std::string& opType);
bool reductionAcceptsType(const std::string& opType, DataType type);

/// Marks in `reduced` (`rank` entries, cleared by the caller) the axes a ReduceX node folds: the
/// `count` given axes, normalized; every axis when none are given, unless noop_with_empty_axes
/// is set, in which case none (the node is the identity). Errors (out of range, repeated) carry
/// no node context. Allocates nothing, so kernels may call it at run time.
Status markReducedAxes(const int64_t* axes, int64_t count, int64_t rank, bool noopWithEmptyAxes, bool* reduced);

}  // namespace kiln
