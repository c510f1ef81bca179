// TfIdfVectorizer on the CPU. For each row, for each skip distance d = 1 .. max_skip_count + 1 and
// each start position, the items start, start + d, start + 2d, ... are matched against the
// n-gram trie; every prefix that is a counted n-gram (of a length within [min_gram_length,
// max_gram_length]) adds one at its output coordinate. Unigrams do not depend on the skip, so
// they are counted in the first pass only. Counts then become the output by the mode: TF the
// count, IDF the weight where the count is positive, TFIDF the weight times the count (weights
// default to one).

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/ml_kernels.h"
#include "ir/ops/tfidf_spec.h"

namespace kiln {

namespace {

class TfIdfKernel : public Kernel {
public:
    TfIdfKernel(TfIdfSpec spec, DataType type) : mSpec(std::move(spec)), mType(type) {}

    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const int64_t rows = x.shape.size() == 2 ? x.shape[0] : 1;
        const int64_t length = x.shape.back();
        float* y = io.output(0).as<float>();
        if (mType == DataType::kINT32)
            countAll(x.as<const int32_t>(), rows, length, y);
        else
            countAll(x.as<const int64_t>(), rows, length, y);
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.tfidf_vectorizer"; }

private:
    template <typename T>
    void countAll(const T* x, int64_t rows, int64_t length, float* y) const {
        const int64_t size = mSpec.outputSize;
#pragma omp parallel for schedule(static) if (rows * length >= 16384)
        for (int64_t r = 0; r < rows; ++r) {
            float* counts = y + r * size;
            std::fill(counts, counts + size, 0.0f);
            countRow(x + r * length, length, counts);
            weigh(counts);
        }
    }

    template <typename T>
    void countRow(const T* items, int64_t length, float* counts) const {
        int64_t shortest = mSpec.minGram;
        for (int64_t skip = 1; skip <= mSpec.maxSkip + 1; ++skip) {
            for (int64_t start = 0; start < length; ++start) {
                // The shortest counted n-gram no longer fits from here on.
                if (start + skip * (shortest - 1) >= length) break;
                int32_t node = 0;
                for (int64_t n = 1, at = start; n <= mSpec.maxGram && at < length; ++n, at += skip) {
                    const auto& children = mSpec.trie[static_cast<size_t>(node)].children;
                    auto child = children.find(static_cast<int64_t>(items[at]));
                    if (child == children.end()) break;
                    node = child->second;
                    const int64_t output = mSpec.trie[static_cast<size_t>(node)].outputIndex;
                    if (n >= shortest && output >= 0) counts[output] += 1;
                }
            }
            if (shortest == 1) {
                shortest = 2;
                if (shortest > mSpec.maxGram) break;
            }
        }
    }

    void weigh(float* counts) const {
        const bool weighted = !mSpec.weights.empty();
        for (int64_t i = 0; i < mSpec.outputSize; ++i) {
            const float weight = weighted ? mSpec.weights[static_cast<size_t>(i)] : 1.0f;
            switch (mSpec.mode) {
                case TfIdfSpec::Mode::kTf:
                    break;
                case TfIdfSpec::Mode::kIdf:
                    counts[i] = counts[i] > 0 ? weight : 0.0f;
                    break;
                case TfIdfSpec::Mode::kTfIdf:
                    counts[i] *= weight;
                    break;
            }
        }
    }

    TfIdfSpec mSpec;
    DataType mType;
};

Expected<std::unique_ptr<Kernel>> createTfIdf(const Node& node) {
    Expected<TfIdfSpec> spec = parseTfIdfSpec(node.attrs);
    if (!spec) return Status(spec.status().code(), node.describe() + ": " + spec.status().message());
    return std::unique_ptr<Kernel>(new TfIdfKernel(std::move(spec).value(), node.input(0)->dtype));
}

bool supportsTfIdf(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0, {DataType::kINT32, DataType::kINT64}, reason);
}

}  // namespace

namespace cpu {

void registerTfIdfKernels(CpuKernelRegistry& registry) {
    registry.add({"TfIdfVectorizer", supportsTfIdf, createTfIdf, ""});
}

}  // namespace cpu

}  // namespace kiln
