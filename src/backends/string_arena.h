#pragma once
// Storage for the strings that kernels produce. A kSTRING tensor holds StringViews (kiln/types.h)
// whose bytes live elsewhere; the bytes of computed strings live here. The execution context owns
// one arena and clears it at the start of every run, so the views a run wrote into its outputs
// stay valid until the next run on that context. Strings are copied once into stable storage
// (std::deque never moves its elements), so a view stays valid while later strings are added.

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "kiln/types.h"

namespace kiln {

class StringArena {
public:
    /// A view of a copy of `bytes` that lives until clear().
    StringView store(std::string_view bytes) {
        if (bytes.empty()) return {"", 0};
        const std::string& kept = mStrings.emplace_back(bytes);
        return {kept.data(), kept.size()};
    }
    void clear() { mStrings.clear(); }

private:
    std::deque<std::string> mStrings;
};

inline std::string_view asStringView(const StringView& s) { return {s.data, static_cast<size_t>(s.size)}; }

}  // namespace kiln
