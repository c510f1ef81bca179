// TfIdfVectorizer against a brute-force reference written from the ONNX definition: every n-gram
// of every counted length, at every skip (unigrams once), looked up in the pool. Random pools and
// sequences of int32 and int64, 1-D and 2-D inputs, each mode with and without weights, and the
// forms the importer must refuse.

#include <map>
#include <numeric>
#include <random>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

struct Pool {
    std::vector<int64_t> items;   // 1-grams, then 2-grams, then 3-grams
    std::vector<int64_t> counts;  // where each length starts
    std::vector<int64_t> indexes;
};

/// `perLength[k]` random (k+1)-grams over the alphabet 0..alphabet-1, output coordinates shuffled.
Pool randomPool(const std::vector<int64_t>& perLength, int64_t alphabet, std::mt19937& rng) {
    Pool pool;
    int64_t ngrams = 0;
    for (size_t k = 0; k < perLength.size(); ++k) {
        pool.counts.push_back(static_cast<int64_t>(pool.items.size()));
        for (int64_t g = 0; g < perLength[k]; ++g, ++ngrams)
            for (size_t i = 0; i <= k; ++i) pool.items.push_back(static_cast<int64_t>(rng() % alphabet));
    }
    pool.indexes.resize(static_cast<size_t>(ngrams));
    std::iota(pool.indexes.begin(), pool.indexes.end(), 0);
    std::shuffle(pool.indexes.begin(), pool.indexes.end(), rng);
    return pool;
}

std::vector<double> reference(const Pool& pool, const Tensor& x, int64_t minGram, int64_t maxGram, int64_t maxSkip,
                              const std::string& mode, const std::vector<float>& weights) {
    // n-gram (its items) -> output coordinate; a later duplicate wins.
    std::map<std::vector<int64_t>, int64_t> coordinate;
    int64_t id = 0;
    for (size_t k = 0; k < pool.counts.size(); ++k) {
        const int64_t end = k + 1 < pool.counts.size() ? pool.counts[k + 1] : static_cast<int64_t>(pool.items.size());
        for (int64_t s = pool.counts[k]; s < end; s += static_cast<int64_t>(k + 1), ++id) {
            if (static_cast<int64_t>(k + 1) < minGram || static_cast<int64_t>(k + 1) > maxGram) continue;
            coordinate[std::vector<int64_t>(pool.items.begin() + s,
                                            pool.items.begin() + s + static_cast<int64_t>(k + 1))] =
                pool.indexes[static_cast<size_t>(id)];
        }
    }
    const int64_t size = *std::max_element(pool.indexes.begin(), pool.indexes.end()) + 1;
    const int64_t rows = x.rank() == 2 ? x.shape()[0] : 1;
    const int64_t length = x.shape().back();
    std::vector<double> out;
    for (int64_t r = 0; r < rows; ++r) {
        std::vector<double> counts(static_cast<size_t>(size), 0);
        for (int64_t n = minGram; n <= maxGram; ++n)
            for (int64_t skip = 0; skip <= (n == 1 ? 0 : maxSkip); ++skip)
                for (int64_t start = 0; start + (n - 1) * (skip + 1) < length; ++start) {
                    std::vector<int64_t> gram;
                    for (int64_t i = 0; i < n; ++i)
                        gram.push_back(static_cast<int64_t>(x.elementAsDouble(r * length + start + i * (skip + 1))));
                    if (auto it = coordinate.find(gram); it != coordinate.end())
                        counts[static_cast<size_t>(it->second)] += 1;
                }
        for (int64_t i = 0; i < size; ++i) {
            const double w = weights.empty() ? 1.0 : double(weights[static_cast<size_t>(i)]);
            const double c = counts[static_cast<size_t>(i)];
            out.push_back(mode == "TF" ? c : mode == "IDF" ? (c > 0 ? w : 0) : w * c);
        }
    }
    return out;
}

AttributeMap tfidfAttrs(const Pool& pool, int64_t minGram, int64_t maxGram, int64_t maxSkip, const std::string& mode,
                        const std::vector<float>& weights) {
    AttributeMap a;
    a.set("pool_int64s", pool.items);
    a.set("ngram_counts", pool.counts);
    a.set("ngram_indexes", pool.indexes);
    a.set("min_gram_length", minGram);
    a.set("max_gram_length", maxGram);
    a.set("max_skip_count", maxSkip);
    a.set("mode", mode);
    if (!weights.empty()) a.set("weights", weights);
    return a;
}

TEST(TfIdfVectorizerOp, RandomPoolsEveryLengthRangeSkipAndMode) {
    std::mt19937 rng(123);
    int cases = 0;
    int64_t hits = 0;  // non-zero reference entries: the cases must find n-grams, not only zeros
    for (int64_t minGram = 1; minGram <= 3; ++minGram)
        for (int64_t maxGram = minGram; maxGram <= 3; ++maxGram)
            for (int64_t maxSkip : {0, 1, 4})
                for (const char* mode : {"TF", "IDF", "TFIDF"}) {
                    // A small alphabet makes hits (and repeated hits) likely.
                    Pool pool = randomPool({5, 6, 4}, 4, rng);
                    std::vector<float> weights;
                    if (cases % 2 == 1)
                        for (size_t i = 0; i < pool.indexes.size(); ++i)
                            weights.push_back(0.25f + 0.5f * float(rng() % 8));
                    const DataType type = cases % 3 == 0 ? DataType::kINT32 : DataType::kINT64;
                    const Shape shape = cases % 4 < 2 ? Shape{3, 13} : Shape{17};
                    Tensor x = randomTensor(type, shape, 0, 3.99, rng());
                    const std::string what = std::to_string(minGram) + ".." + std::to_string(maxGram) + " skip " +
                                             std::to_string(maxSkip) + " " + mode +
                                             (weights.empty() ? "" : " weighted");
                    SingleNodeRun run =
                        runOp("TfIdfVectorizer", {&x}, tfidfAttrs(pool, minGram, maxGram, maxSkip, mode, weights));
                    ASSERT_TRUE(run.status) << what << ": " << run.status.message();
                    Shape expected = shape.size() == 2 ? Shape{shape[0], static_cast<int64_t>(pool.indexes.size())}
                                                       : Shape{static_cast<int64_t>(pool.indexes.size())};
                    ASSERT_EQ(run.outputs[0].shape(), expected) << what;
                    EXPECT_EQ(run.outputs[0].dtype(), DataType::kFLOAT);
                    std::vector<double> ref = reference(pool, x, minGram, maxGram, maxSkip, mode, weights);
                    EXPECT_EQ(compareWithReference(run.outputs[0], ref, 1e-6, 0), "") << what;
                    hits += std::count_if(ref.begin(), ref.end(), [](double v) { return v != 0; });
                    ++cases;
                }
    EXPECT_GT(hits, 5 * cases);
}

TEST(TfIdfVectorizerOp, EmptyLevelsAndCoordinatesWithGaps) {
    // No unigrams (counts [0, 0]) and output coordinates 0, 2, 4: 1 and 3 stay zero.
    Pool pool{{5, 6, 7, 8, 6, 7}, {0, 0}, {4, 0, 2}};
    Tensor x = int64Tensor({1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8}, {12});
    SingleNodeRun run = runOp("TfIdfVectorizer", {&x}, tfidfAttrs(pool, 2, 2, 0, "TF", {}));
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{5}));
    expectExact(run.outputs[0], reference(pool, x, 2, 2, 0, "TF", {}));
    expectExact(run.outputs[0], {1, 0, 1, 0, 1});
}

TEST(TfIdfVectorizerOp, RefusesStringPoolsAndMalformedPools) {
    Pool pool{{1, 2, 3, 4}, {0, 2}, {0, 1, 2}};
    auto refused = [&](AttributeMap attrs, const std::string& why) {
        InferResult r = inferOp("TfIdfVectorizer", {symbolic(DataType::kINT64, {6})}, attrs);
        EXPECT_FALSE(r.status) << why;
        EXPECT_NE(r.status.message().find(why), std::string::npos) << r.status.message();
        EXPECT_NE(r.status.message().find("'node'"), std::string::npos) << r.status.message();
    };
    AttributeMap strings = tfidfAttrs(pool, 1, 2, 0, "TF", {});
    strings.erase("pool_int64s");
    strings.set("pool_strings", std::vector<std::string>{"a", "b", "c", "d"});
    refused(strings, "pool_strings");
    refused(tfidfAttrs(pool, 1, 2, 0, "BM25", {}), "mode 'BM25'");
    refused(tfidfAttrs(pool, 2, 1, 0, "TF", {}), "1 <= min <= max");
    refused(tfidfAttrs(Pool{{1, 2, 3}, {0, 2}, {0, 1, 2}}, 1, 2, 0, "TF", {}), "not whole 2-grams");
    refused(tfidfAttrs(Pool{{1, 2, 3, 4}, {0, 2}, {0, 1}}, 1, 2, 0, "TF", {}), "ngram_indexes has 2 entries");
    refused(tfidfAttrs(pool, 1, 2, 0, "IDF", {1.0f}), "weights has 1 entries");
    InferResult badType =
        inferOp("TfIdfVectorizer", {symbolic(DataType::kFLOAT, {6})}, tfidfAttrs(pool, 1, 2, 0, "TF", {}));
    EXPECT_FALSE(badType.status);
    InferResult rank3 =
        inferOp("TfIdfVectorizer", {symbolic(DataType::kINT32, {2, 2, 3})}, tfidfAttrs(pool, 1, 2, 0, "TF", {}));
    EXPECT_FALSE(rank3.status);
}

}  // namespace
}  // namespace kiln::test
