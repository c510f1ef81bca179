// CPU kernel of TopK: the k largest (or smallest) elements along an axis with their indices,
// sorted; equal values keep the smaller index first.

#include <algorithm>
#include <numeric>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/selection_parts.h"

namespace kiln::selectionkernels {

namespace {

class TopKKernel : public Kernel {
public:
    TopKKernel(int64_t axis, bool largest) : mAxis(axis), mLargest(largest) {}
    std::string tacticName() const override { return "cpu.topk"; }

    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& kView = io.input(1);
        if (kView.elementCount() != 1) return invalidArgument("K must hold one element");
        const int64_t k = kView.as<const int64_t>()[0];
        auto normalized = normalizeAxis(mAxis, x.rank());
        if (!normalized) return invalidArgument("axis " + std::to_string(mAxis) + " is out of range for rank " + std::to_string(x.rank()));
        const size_t axis = static_cast<size_t>(*normalized);
        const int64_t extent = x.shape[axis];
        if (k < 0 || k > extent)
            return invalidArgument("K = " + std::to_string(k) + " is outside [0, " + std::to_string(extent) + "], the extent of axis " + std::to_string(axis));
        int64_t outer = 1, inner = 1;
        for (size_t d = 0; d < axis; ++d) outer *= x.shape[d];
        for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
        Shape outShape = x.shape;
        outShape[axis] = k;
        for (size_t i = 0; i < 2; ++i)
            if (i < io.numOutputs && io.output(i).data && io.output(i).shape != outShape)
                return internalError("output " + std::to_string(i) + " has shape " + shapeToString(io.output(i).shape, true) +
                                     " for K = " + std::to_string(k) + " (expected " + shapeToString(outShape, true) + ")");
        dispatchDataType(x.dtype, [&](auto tag) {
            using T = decltype(tag);
            const T* in = x.as<const T>();
            T* outValues = io.output(0).as<T>();
            int64_t* outIndices = io.numOutputs > 1 ? io.output(1).as<int64_t>() : nullptr;
            std::vector<int64_t> order(static_cast<size_t>(extent));
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t i = 0; i < inner; ++i) {
                    const T* line = in + o * extent * inner + i;
                    auto at = [&](int64_t j) { return comparable(line[j * inner]); };
                    std::iota(order.begin(), order.end(), 0);
                    auto before = [&](int64_t a, int64_t b) {
                        auto va = at(a), vb = at(b);
                        if (va != vb) return mLargest ? vb < va : va < vb;
                        return a < b;
                    };
                    std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
                    for (int64_t j = 0; j < k; ++j) {
                        int64_t offset = (o * k + j) * inner + i;
                        outValues[offset] = line[order[static_cast<size_t>(j)] * inner];
                        if (outIndices) outIndices[offset] = order[static_cast<size_t>(j)];
                    }
                }
        });
        return Status::ok();
    }

private:
    int64_t mAxis;
    bool mLargest;
};

}  // namespace

void registerTopKKernel(CpuKernelRegistry& registry) {
    registry.add({"TopK", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<TopKKernel>(node.attrs.getInt("axis", -1), node.attrs.getInt("largest", 1) != 0));
                  },
                  ""});
}

}  // namespace kiln::selectionkernels
