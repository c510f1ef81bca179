#pragma once
// The ratchet: the fewest inference cases of each set that must pass. File format, one set a
// line: `<set> <minimum passes>`; '#' starts a comment line. Raise the numbers as coverage grows;
// lowering one is a decision to write down in the commit that does it.

#include <map>
#include <string>

#include "common/status.h"

namespace kiln::conformance {

Expected<std::map<std::string, int64_t>> loadRatchet(const std::string& path);

}  // namespace kiln::conformance
