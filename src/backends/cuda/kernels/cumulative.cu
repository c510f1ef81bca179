// CumSum and CumProd (exclusive, reverse) on float, float16, double, int32 and int64. One thread per
// (outer, inner) lane walks the axis in order, neighbouring threads reading neighbouring elements, with
// the CPU kernel's accumulators: double for floating types, 64-bit integers for integers (products
// computed unsigned, so that overflow wraps as numpy's does). The axis is planned once when it is a
// graph constant (the usual case), else read at each run.

#include <cuda_fp16.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/index_values.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

template <typename T>
using Accumulator = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

template <typename T>
__device__ __forceinline__ Accumulator<T> load(T v) {
    return static_cast<Accumulator<T>>(v);
}
template <>
__device__ __forceinline__ double load<__half>(__half v) {
    return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T store(Accumulator<T> v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half store<__half>(double v) {
    return __double2half(v);
}

template <bool kProduct, typename T>
__global__ void cumulateKernel(const T* in, T* out, int64_t outer, int64_t extent, int64_t inner, bool exclusive,
                               bool reverse) {
    using Acc = Accumulator<T>;
    const int64_t lanes = outer * inner;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t lane = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; lane < lanes; lane += stride) {
        const int64_t base = (lane / inner) * extent * inner + lane % inner;
        Acc acc = kProduct ? 1 : 0;
        for (int64_t step = 0; step < extent; ++step) {
            const int64_t at = base + (reverse ? extent - 1 - step : step) * inner;
            const Acc value = load(in[at]);
            if (exclusive) out[at] = store<T>(acc);
            if constexpr (!kProduct)
                acc += value;
            else if constexpr (std::is_integral_v<Acc>)
                acc = static_cast<Acc>(static_cast<uint64_t>(acc) * static_cast<uint64_t>(value));
            else
                acc *= value;
            if (!exclusive) out[at] = store<T>(acc);
        }
    }
}

template <bool kProduct>
class CumulativeKernel : public Kernel {
public:
    explicit CumulativeKernel(const Node& node)
        : mType(node.input(0)->dtype),
          mAxisInput(node.input(1)),
          mExclusive(node.attrs.getInt("exclusive", 0) != 0),
          mReverse(node.attrs.getInt("reverse", 0) != 0),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs[0].shape != outputs[0].shape || outputs[0].dtype != mType)
            return invalidArgument(mName + ": the output must have the input's shape and type");
        mShape = inputs[0].shape;
        mResolved = false;
        if (mAxisInput.isConstant()) return plan(mAxisInput.constantValues());
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mResolved) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> axis, mAxisInput.read(io.input(1), stream, mName + " axis"));
            KILN_RETURN_IF_ERROR(plan(axis));
            mResolved = false;  // a computed axis may differ on the next run
        }
        const int64_t lanes = mOuter * mInner;
        if (lanes == 0 || mExtent == 0) return Status::ok();
        switch (mType) {
            case DataType::kFLOAT: launch<float>(io, stream); break;
            case DataType::kHALF: launch<__half>(io, stream); break;
            case DataType::kDOUBLE: launch<double>(io, stream); break;
            case DataType::kINT32: launch<int32_t>(io, stream); break;
            case DataType::kINT64: launch<int64_t>(io, stream); break;
            default: return unsupported(mName + ": no CUDA kernel for " + dataTypeName(mType));
        }
        return launchStatus("cumulateKernel");
    }

    std::string tacticName() const override {
        return std::string(kProduct ? "cuda.cumprod_" : "cuda.cumsum_") + tacticTypeSuffix(mType);
    }
    bool isCapturable(std::string* reason) const override {
        if (mResolved) return true;
        if (reason) *reason = "its axis is computed during the run and read back to the host";
        return false;
    }

private:
    Status plan(const std::vector<int64_t>& axisValues) {
        if (axisValues.size() != 1)
            return invalidArgument(mName + ": axis must hold one value, not " + std::to_string(axisValues.size()));
        auto axis = normalizeAxis(axisValues[0], static_cast<int64_t>(mShape.size()));
        if (!axis) return invalidArgument(mName + ": axis " + std::to_string(axisValues[0]) + " is out of range");
        const size_t a = static_cast<size_t>(*axis);
        mOuter = shapeElementCount(Shape(mShape.begin(), mShape.begin() + static_cast<std::ptrdiff_t>(a)));
        mExtent = mShape[a];
        mInner = shapeElementCount(Shape(mShape.begin() + static_cast<std::ptrdiff_t>(a) + 1, mShape.end()));
        mResolved = true;
        return Status::ok();
    }

    template <typename T>
    void launch(const KernelIO& io, cudaStream_t stream) {
        cumulateKernel<kProduct, T><<<elementwiseGrid(mOuter * mInner), kElementwiseBlock, 0, stream>>>(
            static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mOuter, mExtent, mInner,
            mExclusive, mReverse);
    }

    DataType mType;
    IndexInput mAxisInput;
    bool mExclusive;
    bool mReverse;
    std::string mName;
    Shape mShape;
    int64_t mOuter{0}, mExtent{0}, mInner{0};
    bool mResolved{false};
};

bool cumulativeSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1,
                        {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64},
                        reason))
        return false;
    const Value* axis = node.input(1);
    if (!axis || (axis->dtype != DataType::kINT32 && axis->dtype != DataType::kINT64)) {
        if (reason) *reason = node.opType + "'s axis must be an int32 or int64 input";
        return false;
    }
    return true;
}

template <bool kProduct>
void registerCumulative(CudaKernelRegistry& registry, const std::string& opType) {
    registry.add({opType, cumulativeSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CumulativeKernel<kProduct>>(node));
                  }});
}

}  // namespace

void registerCumulativeKernels(CudaKernelRegistry& registry) {
    registerCumulative<false>(registry, "CumSum");
    registerCumulative<true>(registry, "CumProd");
}

}  // namespace kiln::cuda
