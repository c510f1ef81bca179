// CPU kernels of the selection family, general part: NonZero and Compress. Unique, TopK and
// NonMaxSuppression live in selection_<op>.cpp. All are ValueDependentKernels: their output
// shapes come from the input values.

#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/selection_parts.h"
#include "backends/cpu/kernels/value_dependent_kernel.h"

namespace kiln {

namespace {

template <typename T>
bool isNonZero(T v) {
    if constexpr (std::is_same_v<T, bool>)
        return v;
    else
        return selectionkernels::comparable(v) != 0;
}

/// NonZero: the indices of the non-zero elements, one column per element in row-major order.
class NonZeroKernel : public ValueDependentKernel {
public:
    std::string tacticName() const override { return "cpu.nonzero"; }

protected:
    Expected<std::vector<Tensor>> compute(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const int64_t count = x.elementCount();
        std::vector<int64_t> positions;
        dispatchDataType(x.dtype, [&](auto tag) {
            using T = decltype(tag);
            const T* data = x.as<const T>();
            for (int64_t i = 0; i < count; ++i)
                if (isNonZero(data[i])) positions.push_back(i);
        });
        const int64_t rank = x.rank();
        const int64_t found = static_cast<int64_t>(positions.size());
        Tensor out = Tensor::allocate(DataType::kINT64, {rank, found});
        int64_t* indices = out.data<int64_t>();
        for (int64_t n = 0; n < found; ++n) {
            int64_t rest = positions[static_cast<size_t>(n)];
            for (int64_t d = rank; d-- > 0;) {
                int64_t extent = x.shape[static_cast<size_t>(d)];
                indices[d * found + n] = rest % extent;
                rest /= extent;
            }
        }
        return std::vector<Tensor>{std::move(out)};
    }
};

/// Compress: the slices along `axis` (or elements of the flattened input) whose condition entry is
/// true. A condition shorter than the axis drops the slices past its end.
class CompressKernel : public ValueDependentKernel {
public:
    explicit CompressKernel(std::optional<int64_t> axis) : mAxis(axis) {}
    std::string tacticName() const override { return "cpu.compress"; }

protected:
    Expected<std::vector<Tensor>> compute(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& condition = io.input(1);
        Shape shape = x.shape;
        int64_t outer = 1, extent = x.elementCount(), inner = 1;
        size_t axis = 0;
        if (mAxis) {
            auto normalized = normalizeAxis(*mAxis, x.rank());
            if (!normalized) return invalidArgument("axis " + std::to_string(*mAxis) + " is out of range for rank " + std::to_string(x.rank()));
            axis = static_cast<size_t>(*normalized);
            extent = shape[axis];
            for (size_t d = 0; d < axis; ++d) outer *= shape[d];
            for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
        }
        const bool* keep = condition.as<const bool>();
        std::vector<int64_t> kept;
        for (int64_t i = 0; i < std::min(extent, condition.elementCount()); ++i)
            if (keep[i]) kept.push_back(i);
        Shape outShape = mAxis ? shape : Shape{0};
        outShape[mAxis ? axis : 0] = static_cast<int64_t>(kept.size());
        Tensor out = Tensor::allocate(x.dtype, outShape);
        const size_t element = dataTypeSize(x.dtype);
        const size_t run = static_cast<size_t>(inner) * element;
        const auto* src = static_cast<const uint8_t*>(x.data);
        auto* dst = static_cast<uint8_t*>(out.data());
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i : kept) {
                std::memcpy(dst, src + static_cast<size_t>(o * extent + i) * run, run);
                dst += run;
            }
        return std::vector<Tensor>{std::move(out)};
    }

private:
    std::optional<int64_t> mAxis;
};

}  // namespace

void registerSelectionKernels(CpuKernelRegistry& registry) {
    registry.add({"NonZero", nullptr,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<NonZeroKernel>()); },
                  ""});
    registry.add({"Compress", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CompressKernel>(node.attrs.getInt("axis")));
                  },
                  ""});
    selectionkernels::registerUniqueKernel(registry);
    selectionkernels::registerTopKKernel(registry);
    selectionkernels::registerNonMaxSuppressionKernel(registry);
}

}  // namespace kiln
