#pragma once
// TfIdfVectorizer: its attributes read and validated once, into the n-gram pool as a trie that
// the CPU kernel walks. Shape inference validates through the same parse.

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "ir/attribute.h"

namespace kiln {

struct TfIdfSpec {
    enum class Mode { kTf, kIdf, kTfIdf };

    /// One trie node: the n-gram spelled by the path from the root to it. `outputIndex` is the
    /// output coordinate of that n-gram when the pool holds it at a length within
    /// [minGram, maxGram], else -1 (a prefix only).
    struct TrieNode {
        int64_t outputIndex{-1};
        std::unordered_map<int64_t, int32_t> children;  // item -> node index
    };

    Mode mode{Mode::kTf};
    int64_t minGram{1};
    int64_t maxGram{1};
    int64_t maxSkip{0};
    int64_t outputSize{0};       // 1 + the largest ngram_indexes entry
    std::vector<float> weights;  // by output coordinate; empty: all ones
    std::vector<TrieNode> trie;  // trie[0] is the root
};

/// Reads and validates the attributes; errors carry no node context (the caller adds it).
/// pool_strings (string n-grams) is refused.
Expected<TfIdfSpec> parseTfIdfSpec(const AttributeMap& attrs);

}  // namespace kiln
