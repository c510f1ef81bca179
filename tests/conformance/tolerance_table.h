#pragma once
// Case-specific tolerances, for cases where ONNX's default (rtol 1e-3, atol 1e-7) is tighter than
// the case's own arithmetic allows. File format, one entry a line:
//
//   <pattern> <rtol> <atol> <reason...>
//
// pattern is matched like a deny-list pattern (the whole case name, or "<set>/<case>" when it holds
// a '/'); the first matching entry wins; the reason is required. '#' starts a comment line.

#include <regex>
#include <string>
#include <vector>

#include "common/status.h"
#include "conformance_case.h"
#include "output_comparison.h"

namespace kiln::conformance {

class ToleranceTable {
public:
    static Expected<ToleranceTable> load(const std::string& path);
    /// The tolerance of the first matching entry, else `fallback`.
    Tolerance lookup(const CaseSpec& spec, const Tolerance& fallback) const;

private:
    struct Entry {
        std::string pattern;
        std::regex regex;
        Tolerance tolerance;
    };
    std::vector<Entry> mEntries;
};

}  // namespace kiln::conformance
