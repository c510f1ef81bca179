#pragma once
// Exit statuses of every `kiln` command (listed in `kiln --help`).

namespace kiln::cli {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed (bad model, build or inference error)
inline constexpr int kExitUsage = 2;    // the command line is wrong (unknown flag, malformed or conflicting values)

}  // namespace kiln::cli
