#include "deny_list.h"

#include <fstream>
#include <sstream>

namespace kiln::conformance {

Expected<DenyList> DenyList::load(const std::string& path) {
    std::ifstream file(path);
    if (!file) return Status(StatusCode::kIoError, "cannot open the deny-list " + path);
    DenyList list;
    std::string text;
    for (int lineNumber = 1; std::getline(file, text); ++lineNumber) {
        std::istringstream line(text);
        std::string kind;
        if (!(line >> kind) || kind[0] == '#') continue;
        const std::string where = path + ":" + std::to_string(lineNumber) + ": ";
        DenyEntry entry;
        entry.line = lineNumber;
        if (kind == "training") {
            entry.kind = DenyKind::kTraining;
        } else if (kind == "gap") {
            entry.kind = DenyKind::kGap;
        } else {
            return invalidArgument(where + "the kind is '" + kind + "', expected 'training' or 'gap'");
        }
        line >> entry.pattern;
        std::getline(line >> std::ws, entry.reason);
        if (entry.pattern.empty() || entry.reason.empty())
            return invalidArgument(where + "an entry needs a pattern and a reason");
        try {
            entry.regex = std::regex(entry.pattern, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            return invalidArgument(where + "'" + entry.pattern + "' is not a valid regex: " + e.what());
        }
        list.mEntries.push_back(std::move(entry));
    }
    return list;
}

const DenyEntry* DenyList::match(const CaseSpec& spec) const {
    const std::string qualified = spec.qualifiedName();
    for (const DenyEntry& entry : mEntries) {
        const bool bySet = entry.pattern.find('/') != std::string::npos;
        if (std::regex_match(bySet ? qualified : spec.name, entry.regex)) return &entry;
    }
    return nullptr;
}

}  // namespace kiln::conformance
