// Clip (bounds as optional scalar inputs, read on the device at each run: they may be computed) on
// every numeric type, and Shrink (lambd and bias attributes) on the types the CPU kernel has.

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"

namespace kiln::cuda {

namespace {

// ---------------------------------------------------------------------------------------------- Clip

/// A bound that leaves every value unchanged: the infinities for floats, the extremes for integers.
template <typename C>
__device__ __forceinline__ C noLowerBound() {
    if constexpr (std::is_floating_point_v<C>)
        return static_cast<C>(-INFINITY);
    else
        return Limits<C>::kLowest;
}
template <typename C>
__device__ __forceinline__ C noUpperBound() {
    if constexpr (std::is_floating_point_v<C>)
        return static_cast<C>(INFINITY);
    else
        return Limits<C>::kMax;
}

// NaN passes through (both comparisons are false), as on the CPU; min > max gives max.
template <typename T, typename IndexT>
__global__ void clipKernel(const T* in, T* out, IndexT count, const T* lo, const T* hi) {
    using C = Compute<T>;
    const C low = lo ? load(*lo) : noLowerBound<C>();
    const C high = hi ? load(*hi) : noUpperBound<C>();
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        C x = load(in[i]);
        x = x < low ? low : x;
        out[i] = store<T>(x > high ? high : x);
    }
}

class ClipKernel : public Kernel {
public:
    explicit ClipKernel(DataType type) : mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].dtype != mType || outputs[0].dtype != mType ||
            inputs[0].elementCount() != outputs[0].elementCount())
            return invalidArgument(tacticName() + ": input and output must be " + dataTypeName(mType) +
                                   " tensors of the same element count");
        for (size_t i = 1; i < inputs.size() && i < 3; ++i) {
            // An omitted bound has a null view; a present one must be one element of X's type.
            if (!inputs[i].data) continue;
            if (inputs[i].dtype != mType || inputs[i].elementCount() != 1)
                return invalidArgument(tacticName() + ": " + (i == 1 ? "min" : "max") +
                                       " must be one element of the input's type");
        }
        mCount = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const void* lo = io.hasInput(1) ? io.input(1).data : nullptr;
        const void* hi = io.hasInput(2) ? io.input(2).data : nullptr;
        const unsigned grid = elementwiseGrid(mCount);
        NumericTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            const T* in = static_cast<const T*>(io.input(0).data);
            T* out = static_cast<T*>(io.output(0).data);
            if (mCount < (int64_t{1} << 31))
                clipKernel<T, uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    in, out, static_cast<uint32_t>(mCount), static_cast<const T*>(lo), static_cast<const T*>(hi));
            else
                clipKernel<T, int64_t><<<grid, kElementwiseBlock, 0, stream>>>(
                    in, out, mCount, static_cast<const T*>(lo), static_cast<const T*>(hi));
        });
        return launchStatus("clipKernel");
    }

    std::string tacticName() const override { return std::string("cuda.clip_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    int64_t mCount{0};
};

bool clipSupported(const Node& node, std::string* reason) {
    // Inputs 1 and 2 (min, max) are optional; present ones must have X's type.
    return inputsHaveType(node, 0, std::min<size_t>(node.inputs.size(), 3), NumericTypes::types(), reason);
}

// -------------------------------------------------------------------------------------------- Shrink

using ShrinkTypes =
    DeviceTypes<float, double, __half, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;

/// x + bias below -lambd, x - bias above lambd, 0 between. Integers compute in double and convert back
/// like Cast.
struct ShrinkFn {
    float lambd{0.5f};
    float bias{0.0f};
    template <typename C>
    __device__ C operator()(C x) const {
        if constexpr (std::is_integral_v<C>) {
            const double v = static_cast<double>(x);
            const double y = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
            return castValue<C>(y);
        } else {
            const C l = static_cast<C>(lambd);
            const C b = static_cast<C>(bias);
            return x < -l ? x + b : (x > l ? x - b : C{0});
        }
    }
};

}  // namespace

void registerClipShrinkKernels(CudaKernelRegistry& registry) {
    registry.add({"Clip", clipSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ClipKernel>(node.input(0)->dtype));
                  }});
    registerUnaryKernel<ShrinkFn, ShrinkTypes>(registry, "Shrink", "shrink", [](const Node& node) {
        return ShrinkFn{node.attrs.getFloat("lambd", 0.5f), node.attrs.getFloat("bias", 0.0f)};
    });
}

}  // namespace kiln::cuda
