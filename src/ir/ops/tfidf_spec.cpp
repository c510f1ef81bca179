#include "ir/ops/tfidf_spec.h"

#include <algorithm>
#include <string>

namespace kiln {

Expected<TfIdfSpec> parseTfIdfSpec(const AttributeMap& attrs) {
    if (attrs.has("pool_strings"))
        return unsupported("pool_strings (string n-grams) are not supported");
    std::optional<std::vector<int64_t>> pool = attrs.getInts("pool_int64s");
    if (!pool) return invalidModel("attribute 'pool_int64s' is required");
    std::optional<std::vector<int64_t>> counts = attrs.getInts("ngram_counts");
    std::optional<std::vector<int64_t>> indexes = attrs.getInts("ngram_indexes");
    std::optional<std::string> mode = attrs.getString("mode");
    if (!counts || !indexes || !mode)
        return invalidModel("attributes 'ngram_counts', 'ngram_indexes' and 'mode' are required");

    TfIdfSpec spec;
    if (*mode == "TF")
        spec.mode = TfIdfSpec::Mode::kTf;
    else if (*mode == "IDF")
        spec.mode = TfIdfSpec::Mode::kIdf;
    else if (*mode == "TFIDF")
        spec.mode = TfIdfSpec::Mode::kTfIdf;
    else
        return invalidModel("mode '" + *mode + "' is not TF, IDF or TFIDF");
    std::optional<int64_t> minGram = attrs.getInt("min_gram_length");
    std::optional<int64_t> maxGram = attrs.getInt("max_gram_length");
    std::optional<int64_t> maxSkip = attrs.getInt("max_skip_count");
    if (!minGram || !maxGram || !maxSkip)
        return invalidModel("attributes 'min_gram_length', 'max_gram_length' and 'max_skip_count' are required");
    if (*minGram < 1 || *maxGram < *minGram || *maxSkip < 0)
        return invalidModel("the n-gram lengths " + std::to_string(*minGram) + ".." + std::to_string(*maxGram) +
                            " and max_skip_count " + std::to_string(*maxSkip) +
                            " must satisfy 1 <= min <= max, skip >= 0");
    spec.minGram = *minGram;
    spec.maxGram = *maxGram;
    spec.maxSkip = *maxSkip;

    // ngram_counts[k] is where the (k+1)-grams start in the pool; they run to the next start.
    const int64_t poolSize = static_cast<int64_t>(pool->size());
    for (size_t k = 0; k < counts->size(); ++k) {
        const int64_t start = (*counts)[k];
        const int64_t end = k + 1 < counts->size() ? (*counts)[k + 1] : poolSize;
        if (start < 0 || end < start || end > poolSize)
            return invalidModel("ngram_counts " + std::to_string(start) + ".." + std::to_string(end) +
                                " do not divide the pool of " + std::to_string(poolSize) + " items in order");
        if ((end - start) % static_cast<int64_t>(k + 1) != 0)
            return invalidModel("the " + std::to_string(k + 1) + "-grams (pool items " + std::to_string(start) + ".." +
                                std::to_string(end) + ") are not whole " + std::to_string(k + 1) + "-grams");
    }
    int64_t ngrams = 0;
    for (size_t k = 0; k < counts->size(); ++k) {
        const int64_t end = k + 1 < counts->size() ? (*counts)[k + 1] : poolSize;
        ngrams += (end - (*counts)[k]) / static_cast<int64_t>(k + 1);
    }
    if (static_cast<int64_t>(indexes->size()) != ngrams)
        return invalidModel("ngram_indexes has " + std::to_string(indexes->size()) + " entries for the pool's " +
                            std::to_string(ngrams) + " n-grams");
    for (int64_t index : *indexes)
        if (index < 0) return invalidModel("ngram_indexes holds the negative coordinate " + std::to_string(index));
    spec.outputSize = indexes->empty() ? 0 : *std::max_element(indexes->begin(), indexes->end()) + 1;
    if (spec.outputSize == 0) return invalidModel("ngram_indexes is empty: the output would have no coordinates");

    // ONNX Runtime and ONNX's reference implementation both scale output coordinate i by
    // weights[i] (the spec words it per n-gram; the two agree when ngram_indexes is 0, 1, ...).
    if (std::optional<std::vector<float>> weights = attrs.getFloats("weights")) {
        if (static_cast<int64_t>(weights->size()) < spec.outputSize)
            return invalidModel("weights has " + std::to_string(weights->size()) + " entries for " +
                                std::to_string(spec.outputSize) + " output coordinates");
        spec.weights = *weights;
    }

    // The trie holds the n-grams whose length is counted; a later duplicate in the pool wins.
    spec.trie.emplace_back();
    int64_t id = 0;
    for (size_t k = 0; k < counts->size(); ++k) {
        const int64_t length = static_cast<int64_t>(k + 1);
        const int64_t end = k + 1 < counts->size() ? (*counts)[k + 1] : poolSize;
        for (int64_t start = (*counts)[k]; start < end; start += length, ++id) {
            if (length < spec.minGram || length > spec.maxGram) continue;
            int32_t node = 0;
            for (int64_t i = start; i < start + length; ++i) {
                const int64_t item = (*pool)[static_cast<size_t>(i)];
                auto found = spec.trie[static_cast<size_t>(node)].children.find(item);
                if (found == spec.trie[static_cast<size_t>(node)].children.end()) {
                    const int32_t child = static_cast<int32_t>(spec.trie.size());
                    spec.trie[static_cast<size_t>(node)].children.emplace(item, child);
                    spec.trie.emplace_back();
                    node = child;
                } else {
                    node = found->second;
                }
            }
            spec.trie[static_cast<size_t>(node)].outputIndex = (*indexes)[static_cast<size_t>(id)];
        }
    }
    return spec;
}

}  // namespace kiln
