#include "tolerance_table.h"

#include <fstream>
#include <sstream>

namespace kiln::conformance {

Expected<ToleranceTable> ToleranceTable::load(const std::string& path) {
    std::ifstream file(path);
    if (!file) return Status(StatusCode::kIoError, "cannot open the tolerance table " + path);
    ToleranceTable table;
    std::string text;
    for (int lineNumber = 1; std::getline(file, text); ++lineNumber) {
        std::istringstream line(text);
        Entry entry;
        if (!(line >> entry.pattern) || entry.pattern[0] == '#') continue;
        const std::string where = path + ":" + std::to_string(lineNumber) + ": ";
        std::string reason;
        if (!(line >> entry.tolerance.rtol >> entry.tolerance.atol) || !std::getline(line >> std::ws, reason) ||
            reason.empty())
            return invalidArgument(where + "expected '<pattern> <rtol> <atol> <reason>'");
        try {
            entry.regex = std::regex(entry.pattern, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            return invalidArgument(where + "'" + entry.pattern + "' is not a valid regex: " + e.what());
        }
        table.mEntries.push_back(std::move(entry));
    }
    return table;
}

Tolerance ToleranceTable::lookup(const CaseSpec& spec, const Tolerance& fallback) const {
    const std::string qualified = spec.qualifiedName();
    for (const Entry& entry : mEntries) {
        const bool bySet = entry.pattern.find('/') != std::string::npos;
        if (std::regex_match(bySet ? qualified : spec.name, entry.regex)) return entry.tolerance;
    }
    return fallback;
}

}  // namespace kiln::conformance
