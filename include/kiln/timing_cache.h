#pragma once
// The timing cache (TensorRT's ITimingCache): the fastest implementation the builder measured for each
// layer problem on a target, so that a rebuild times nothing it has timed before and chooses the same
// kernels again (a reproducible engine). Keyed by the target (GPU architecture and library versions),
// the op and the problem its kernel states (types, shapes, attributes); kept in a JSON file by
// `kiln exec --timingCacheFile` and shown by `kiln inspect`.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

class TimingCache {
public:
    struct Entry {
        std::vector<int64_t> tactic;  // the kernel's tacticState() of the fastest implementation
        double milliseconds{0.0};     // its median time
        std::string tacticName;       // readable, for reports
        int64_t candidates{0};        // how many implementations were timed
    };

    /// Reads what serialize() wrote; empty `text` is an empty cache. Nullptr with `error` set when the
    /// text is not a Kiln timing cache.
    static std::unique_ptr<TimingCache> deserialize(const std::string& text, std::string* error);
    std::string serialize() const;

    const Entry* find(const std::string& key) const;
    void insert(const std::string& key, Entry entry) { mEntries[key] = std::move(entry); }
    const std::map<std::string, Entry>& entries() const { return mEntries; }

private:
    std::map<std::string, Entry> mEntries;
};

}  // namespace kiln
