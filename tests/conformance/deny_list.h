#pragma once
// The deny-list: cases known not to pass, each with the reason. File format, one entry a line:
//
//   <kind> <pattern> <reason...>
//
// kind is `training` (a training-only case: not counted among the inference cases) or `gap` (an
// inference case Kiln does not pass yet). pattern is an ECMAScript regex matched against the whole
// case name ("test_topk_.*"), or against "<set>/<case>" when it holds a '/'. The reason is required.
// '#' starts a comment line.

#include <regex>
#include <string>
#include <vector>

#include "common/status.h"
#include "conformance_case.h"

namespace kiln::conformance {

enum class DenyKind { kTraining, kGap };

struct DenyEntry {
    DenyKind kind{DenyKind::kGap};
    std::string pattern;
    std::string reason;
    int line{0};
    std::regex regex;
};

class DenyList {
public:
    static Expected<DenyList> load(const std::string& path);
    /// The first entry matching the case, or nullptr.
    const DenyEntry* match(const CaseSpec& spec) const;

private:
    std::vector<DenyEntry> mEntries;
};

}  // namespace kiln::conformance
