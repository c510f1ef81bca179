#pragma once
// The options a `kiln exec` run uses, defaults included, listed group by group at its start as
// trtexec does ("=== Build Options ===", "Iterations: 10", ...), so a log shows how it was made.

#include <string>
#include <vector>

#include "exec_options.h"

namespace kiln::cli {

/// One line per setting, with a "=== <Group> Options ===" line before each group.
std::vector<std::string> describeOptions(const ExecOptions& options);

}  // namespace kiln::cli
