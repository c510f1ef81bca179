#include "kiln/timing_cache.h"

#include <nlohmann/json.hpp>

namespace kiln {

namespace {

constexpr const char* kFormatKey = "kiln_timing_cache";
constexpr int kFormatVersion = 1;

}  // namespace

std::unique_ptr<TimingCache> TimingCache::deserialize(const std::string& text, std::string* error) {
    auto cache = std::make_unique<TimingCache>();
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return cache;
    auto fail = [&](const std::string& why) -> std::unique_ptr<TimingCache> {
        if (error) *error = "not a Kiln timing cache: " + why;
        return nullptr;
    };
    nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) return fail("not a JSON object");
    if (!json.contains(kFormatKey) || !json[kFormatKey].is_number_integer()) return fail("no \"kiln_timing_cache\" version");
    if (json[kFormatKey].get<int>() != kFormatVersion)
        return fail("format version " + json[kFormatKey].dump() + ", this Kiln reads version " +
                    std::to_string(kFormatVersion));
    if (!json.contains("entries") || !json["entries"].is_array()) return fail("no \"entries\" list");
    for (const nlohmann::json& e : json["entries"]) {
        if (!e.is_object() || !e.contains("key") || !e["key"].is_string() || !e.contains("tactic") ||
            !e["tactic"].is_array() || !e.contains("ms") || !e["ms"].is_number())
            return fail("an entry lacks \"key\", \"tactic\" or \"ms\"");
        Entry entry;
        for (const nlohmann::json& word : e["tactic"]) {
            if (!word.is_number_integer()) return fail("a tactic holds a non-integer");
            entry.tactic.push_back(word.get<int64_t>());
        }
        entry.milliseconds = e["ms"].get<double>();
        entry.tacticName = e.value("name", std::string());
        entry.candidates = e.value("candidates", int64_t{0});
        cache->insert(e["key"].get<std::string>(), std::move(entry));
    }
    return cache;
}

std::string TimingCache::serialize() const {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& [key, entry] : mEntries)
        entries.push_back({{"key", key},
                           {"tactic", entry.tactic},
                           {"ms", entry.milliseconds},
                           {"name", entry.tacticName},
                           {"candidates", entry.candidates}});
    nlohmann::json json = {{kFormatKey, kFormatVersion}, {"entries", entries}};
    return json.dump(1) + "\n";
}

const TimingCache::Entry* TimingCache::find(const std::string& key) const {
    auto it = mEntries.find(key);
    return it == mEntries.end() ? nullptr : &it->second;
}

}  // namespace kiln
