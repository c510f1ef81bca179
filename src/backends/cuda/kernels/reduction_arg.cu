// ArgMax and ArgMin (int64 indices along one axis; keepdims only changes the output's shape) on float,
// float16, double, int32 and int64. One thread per output element walks the axis in order, with the CPU
// kernel's rules: NaN counts as the extremum (numpy's), ties go to the first index unless
// select_last_index.

#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

/// The value compared: float16 widened to float, every other type as it is.
template <typename T>
__device__ __forceinline__ T comparable(T v) {
    return v;
}
__device__ __forceinline__ float comparable(__half v) {
    return __half2float(v);
}

template <typename V, bool kMax, bool kLast>
__device__ __forceinline__ bool better(V v, V best) {
    if (v != v) return best == best || kLast;  // v is NaN (never so for integers)
    if (best != best) return false;
    if constexpr (kMax) return kLast ? v >= best : v > best;
    else return kLast ? v <= best : v < best;
}

template <typename T, bool kMax, bool kLast>
__global__ void argReduceKernel(const T* in, int64_t* out, int64_t outputs, int64_t extent, int64_t inner) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < outputs; o += step) {
        const T* base = in + (o / inner) * extent * inner + o % inner;
        auto best = comparable(base[0]);
        int64_t bestIndex = 0;
        for (int64_t i = 1; i < extent; ++i) {
            const auto v = comparable(base[i * inner]);
            if (better<decltype(best), kMax, kLast>(v, best)) {
                best = v;
                bestIndex = i;
            }
        }
        out[o] = bestIndex;
    }
}

template <typename T, bool kMax>
void launchArgReduce(const void* in, void* out, int64_t outputs, int64_t extent, int64_t inner, bool last,
                     cudaStream_t stream) {
    const T* src = static_cast<const T*>(in);
    int64_t* dst = static_cast<int64_t*>(out);
    const unsigned grid = elementwiseGrid(outputs);
    if (last)
        argReduceKernel<T, kMax, true><<<grid, kElementwiseBlock, 0, stream>>>(src, dst, outputs, extent, inner);
    else
        argReduceKernel<T, kMax, false><<<grid, kElementwiseBlock, 0, stream>>>(src, dst, outputs, extent, inner);
}

class ArgReduceKernel : public Kernel {
public:
    ArgReduceKernel(const Node& node, bool isMax)
        : mIsMax(isMax),
          mType(node.input(0)->dtype),
          mAxisAttr(node.attrs.getInt("axis", 0)),
          mSelectLast(node.attrs.getInt("select_last_index", 0) != 0),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(x.size()));
        if (!axis)
            return invalidArgument(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range for " +
                                   shapeToString(x, true));
        mInner = 1;
        int64_t outer = 1;
        for (int64_t d = 0; d < *axis; ++d) outer *= x[static_cast<size_t>(d)];
        for (size_t d = static_cast<size_t>(*axis) + 1; d < x.size(); ++d) mInner *= x[d];
        mExtent = x[static_cast<size_t>(*axis)];
        mOutputs = outer * mInner;
        if (outputs[0].elementCount() != mOutputs || outputs[0].dtype != DataType::kINT64)
            return invalidArgument(mName + ": the output must be int64 with " + std::to_string(mOutputs) + " elements");
        if (mExtent == 0 && mOutputs > 0)
            return invalidArgument(mName + ": cannot take the index of an extremum over an empty axis");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mOutputs == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const void* in = io.input(0).data;
        void* out = io.output(0).data;
        auto launch = [&](auto tag) {
            using T = decltype(tag);
            if (mIsMax) launchArgReduce<T, true>(in, out, mOutputs, mExtent, mInner, mSelectLast, stream);
            else launchArgReduce<T, false>(in, out, mOutputs, mExtent, mInner, mSelectLast, stream);
        };
        switch (mType) {
            case DataType::kFLOAT: launch(float{}); break;
            case DataType::kHALF: launch(__half{}); break;
            case DataType::kDOUBLE: launch(double{}); break;
            case DataType::kINT32: launch(int32_t{}); break;
            case DataType::kINT64: launch(int64_t{}); break;
            default: return unsupported(mName + ": no CUDA kernel for " + dataTypeName(mType));
        }
        return launchStatus("argReduceKernel");
    }

    std::string tacticName() const override {
        return std::string("cuda.") + (mIsMax ? "argmax_" : "argmin_") + tacticTypeSuffix(mType);
    }

private:
    bool mIsMax;
    DataType mType;
    int64_t mAxisAttr;
    bool mSelectLast;
    std::string mName;
    int64_t mOutputs{0}, mExtent{1}, mInner{1};
};

void registerArgReduce(CudaKernelRegistry& registry, const std::string& opType, bool isMax) {
    registry.add({opType,
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1,
                                            {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32,
                                             DataType::kINT64},
                                            reason);
                  },
                  [isMax](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ArgReduceKernel>(node, isMax));
                  }});
}

}  // namespace

void registerArgReduceKernels(CudaKernelRegistry& registry) {
    registerArgReduce(registry, "ArgMax", true);
    registerArgReduce(registry, "ArgMin", false);
}

}  // namespace kiln::cuda
