#include "name_value_list.h"

#include <set>

namespace kiln::cli {

Expected<std::vector<std::string>> splitOutsideQuotes(const std::string& text, char separator) {
    std::vector<std::string> parts(1);
    char quote = 0;
    for (char c : text) {
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == separator) {
            parts.emplace_back();
            continue;
        }
        parts.back() += c;
    }
    if (quote) return invalidArgument("unterminated " + std::string(1, quote) + " quote in '" + text + "'");
    return parts;
}

namespace {

// Position of the first or last ':' that is not inside quotes, or npos.
size_t findColon(const std::string& entry, ColonRule rule) {
    size_t found = std::string::npos;
    char quote = 0;
    for (size_t i = 0; i < entry.size(); ++i) {
        char c = entry[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == ':') {
            found = i;
            if (rule == ColonRule::kFirst) break;
        }
    }
    return found;
}

// A name wrapped whole in matching quotes loses them; quotes elsewhere are an error, since they
// would otherwise silently become part of the name.
Expected<std::string> unquoteName(const std::string& name) {
    if (name.size() >= 2 && (name.front() == '\'' || name.front() == '"') && name.back() == name.front()) {
        std::string inner = name.substr(1, name.size() - 2);
        if (inner.find(name.front()) == std::string::npos) return inner;
    }
    if (name.find_first_of("'\"") != std::string::npos)
        return invalidArgument("misplaced quote in name " + name + ": quote the whole name, e.g. 'Input:0'");
    return name;
}

}  // namespace

Expected<std::vector<NameValue>> parseNameValueList(const std::string& flag, const std::vector<std::string>& args,
                                                    ColonRule rule, const std::string& example) {
    std::vector<NameValue> result;
    std::set<std::string> seen;
    for (const std::string& arg : args) {
        auto entries = splitOutsideQuotes(arg, ',');
        if (!entries) return entries.status().withContext(flag);
        for (const std::string& entry : entries.value()) {
            size_t colon = findColon(entry, rule);
            if (colon == std::string::npos || colon == 0)
                return invalidArgument(flag + ": '" + entry + "' is not of the form name:value (e.g. " + example + ")");
            auto name = unquoteName(entry.substr(0, colon));
            if (!name) return name.status().withContext(flag);
            if (name.value().empty())
                return invalidArgument(flag + ": '" + entry + "' has an empty name (e.g. " + example + ")");
            if (!seen.insert(name.value()).second)
                return invalidArgument(flag + ": '" + name.value() + "' is given more than once");
            result.push_back({std::move(name).value(), entry.substr(colon + 1)});
        }
    }
    return result;
}

}  // namespace kiln::cli
