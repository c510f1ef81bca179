#pragma once
// Rules shared by the ReduceX ops' inference and their CPU kernels: which types each accepts and
// which axes a node reduces.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ir/tensor.h"

namespace kiln {

/// ReduceMax / ReduceMin (which also take int8, uint8 and bool).
bool isMinMaxReduction(const std::string& opType);
bool reductionAcceptsType(const std::string& opType, DataType type);

/// The normalized, sorted-as-given axes a ReduceX node reduces over: every axis when none are
/// given (or the list is empty), none when the list is empty and noop_with_empty_axes is set.
/// `axesGiven` says whether input 1 exists; its value `axesValue` may be unknown (nullptr), in
/// which case the result is nullopt. Errors carry no node context.
Expected<std::optional<std::vector<int64_t>>> reductionAxes(const Tensor* axesValue, bool axesGiven, int64_t rank,
                                                           bool noopWithEmptyAxes);

}  // namespace kiln
