#pragma once
// The operators Kiln registers, for docs/operators.md: op type, domain, input count range and
// whether the CPU backend has a kernel for it.

#include <string>

namespace kiln::conformance {

/// JSON: [{"op_type", "domain", "min_inputs", "max_inputs", "cpu_kernel"}, ...] sorted by op type.
std::string listRegisteredOpsJson();

}  // namespace kiln::conformance
