// CPU kernel of Unique: the distinct elements (or slices along `axis`) of the input, sorted
// ascending or in order of first occurrence, with the index of each one's first occurrence, the
// inverse mapping of every input element (slice) and each one's count.

#include <algorithm>
#include <cstring>
#include <numeric>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/selection_parts.h"
#include "backends/cpu/kernels/value_dependent_kernel.h"

namespace kiln::selectionkernels {

namespace {

class UniqueKernel : public ValueDependentKernel {
public:
    UniqueKernel(std::optional<int64_t> axis, bool sorted, size_t numOutputs)
        : mAxis(axis), mSorted(sorted), mNumOutputs(numOutputs) {}
    std::string tacticName() const override { return "cpu.unique"; }

protected:
    Expected<std::vector<Tensor>> compute(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        // The input as `outer` x `slices` x `inner`: slice s is {x[o][s][i]} over o and i.
        int64_t outer = 1, slices = x.elementCount(), inner = 1;
        size_t axis = 0;
        if (mAxis) {
            auto normalized = normalizeAxis(*mAxis, x.rank());
            if (!normalized) return invalidArgument("axis " + std::to_string(*mAxis) + " is out of range for rank " + std::to_string(x.rank()));
            axis = static_cast<size_t>(*normalized);
            slices = x.shape[axis];
            for (size_t d = 0; d < axis; ++d) outer *= x.shape[d];
            for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
        }
        std::vector<int64_t> order(static_cast<size_t>(slices));
        std::iota(order.begin(), order.end(), 0);
        // Slices compared element by element in (outer, inner) order: sorted order, and equality.
        dispatchDataType(x.dtype, [&](auto tag) {
            using T = decltype(tag);
            const T* data = x.as<const T>();
            auto compare = [&](int64_t a, int64_t b) {
                for (int64_t o = 0; o < outer; ++o)
                    for (int64_t i = 0; i < inner; ++i) {
                        auto va = comparable(data[(o * slices + a) * inner + i]);
                        auto vb = comparable(data[(o * slices + b) * inner + i]);
                        if (va < vb) return -1;
                        if (vb < va) return 1;
                    }
                return 0;
            };
            std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return compare(a, b) < 0; });
            // Groups of equal slices, in sorted order; the first of each is its first occurrence.
            mGroupOf.assign(static_cast<size_t>(slices), 0);
            mFirsts.clear();
            mCounts.clear();
            for (size_t k = 0; k < order.size(); ++k) {
                if (k == 0 || compare(order[k - 1], order[k]) != 0) {
                    mFirsts.push_back(order[k]);
                    mCounts.push_back(0);
                }
                mGroupOf[static_cast<size_t>(order[k])] = static_cast<int64_t>(mFirsts.size() - 1);
                ++mCounts.back();
            }
        });
        const size_t groups = mFirsts.size();
        // Output position of each group: sorted order, or order of first occurrence.
        std::vector<int64_t> rank(groups);
        std::iota(rank.begin(), rank.end(), 0);
        if (!mSorted) {
            std::vector<int64_t> byFirst(groups);
            std::iota(byFirst.begin(), byFirst.end(), 0);
            std::sort(byFirst.begin(), byFirst.end(), [&](int64_t a, int64_t b) { return mFirsts[static_cast<size_t>(a)] < mFirsts[static_cast<size_t>(b)]; });
            for (size_t p = 0; p < groups; ++p) rank[static_cast<size_t>(byFirst[p])] = static_cast<int64_t>(p);
        }
        const int64_t n = static_cast<int64_t>(groups);
        Shape yShape = mAxis ? x.shape : Shape{n};
        if (mAxis) yShape[axis] = n;
        Tensor y = Tensor::allocate(x.dtype, yShape);
        Tensor indices = Tensor::allocate(DataType::kINT64, {n});
        Tensor inverse = Tensor::allocate(DataType::kINT64, {slices});
        Tensor counts = Tensor::allocate(DataType::kINT64, {n});
        const size_t run = static_cast<size_t>(inner) * dataTypeSize(x.dtype);
        const auto* src = static_cast<const uint8_t*>(x.data);
        auto* dst = static_cast<uint8_t*>(y.data());
        for (size_t g = 0; g < groups; ++g) {
            int64_t p = rank[g];
            indices.data<int64_t>()[p] = mFirsts[g];
            counts.data<int64_t>()[p] = mCounts[g];
            for (int64_t o = 0; o < outer; ++o)
                std::memcpy(dst + static_cast<size_t>(o * n + p) * run, src + static_cast<size_t>(o * slices + mFirsts[g]) * run, run);
        }
        for (int64_t s = 0; s < slices; ++s) inverse.data<int64_t>()[s] = rank[static_cast<size_t>(mGroupOf[static_cast<size_t>(s)])];
        std::vector<Tensor> outputs;
        outputs.push_back(std::move(y));
        outputs.push_back(std::move(indices));
        outputs.push_back(std::move(inverse));
        outputs.push_back(std::move(counts));
        outputs.resize(mNumOutputs);
        return outputs;
    }

private:
    std::optional<int64_t> mAxis;
    bool mSorted;
    size_t mNumOutputs;
    std::vector<int64_t> mGroupOf, mFirsts, mCounts;
};

}  // namespace

void registerUniqueKernel(CpuKernelRegistry& registry) {
    registry.add({"Unique", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<UniqueKernel>(node.attrs.getInt("axis"), node.attrs.getInt("sorted", 1) != 0, node.outputs.size()));
                  },
                  ""});
}

}  // namespace kiln::selectionkernels
