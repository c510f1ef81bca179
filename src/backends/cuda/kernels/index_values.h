#pragma once
// Small int32/int64 index tensors (Slice's starts/ends/axes/steps, Reduce's axes) read back to the host
// where a kernel's launch geometry depends on their values. Called at reshape, or at run for values the
// caller binds per run: a synchronous device-to-host copy of a few bytes.

#include <cstdint>
#include <string>
#include <vector>

#include "backends/tensor_view.h"
#include "common/status.h"

namespace kiln::cuda {

/// The values of `view` (int32 or int64, in device memory) as int64; `what` names it in errors.
Expected<std::vector<int64_t>> readIndexValues(const TensorView& view, const std::string& what);

}  // namespace kiln::cuda
