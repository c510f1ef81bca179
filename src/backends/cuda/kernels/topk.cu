// TopK on float, float16, double and 8-, 32- and 64-bit integers, along any axis: the k largest (or smallest) elements
// with their indices, always sorted (what `sorted` = 0 allows too), equal values in the order of their
// indices, as the CPU kernel. Each thread takes one element of a line and counts the elements of its
// line that come before it in that total order (NaN counts as the largest value, so the order stays
// total); an element whose rank is below k is written at its rank. That is O(extent^2) work per line
// spread over extent threads, with no workspace and no sort pass; k itself is the output's extent along
// the axis, so no input is read on the host.

#include <cuda_fp16.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

template <typename T>
struct OrderKey {
    using Type = T;
    __device__ static T of(T v) { return v; }
};
template <>
struct OrderKey<__half> {
    using Type = float;
    __device__ static float of(__half v) { return __half2float(v); }
};

template <typename K>
__device__ __forceinline__ bool isNan(K v) {
    if constexpr (std::is_floating_point_v<K>)
        return v != v;
    else
        return false;
}

/// a < b in the total order where NaN is above every number (and equal to NaN).
template <typename K>
__device__ __forceinline__ bool lessThan(K a, K b) {
    if (isNan(a)) return false;
    if (isNan(b)) return true;
    return a < b;
}

template <typename T>
__global__ void topkRankKernel(const T* x, T* values, int64_t* indices, int64_t outer, int64_t extent, int64_t inner,
                               int64_t k, bool largest) {
    using K = typename OrderKey<T>::Type;
    const int64_t total = outer * extent * inner;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t i = index % inner;
        const int64_t j = (index / inner) % extent;
        const int64_t o = index / (inner * extent);
        const T* line = x + o * extent * inner + i;
        const K mine = OrderKey<T>::of(line[j * inner]);
        int64_t rank = 0;
        for (int64_t m = 0; m < extent && rank < k; ++m) {
            if (m == j) continue;
            const K other = OrderKey<T>::of(line[m * inner]);
            const bool before = largest ? lessThan(mine, other) : lessThan(other, mine);
            const bool tiedBefore = !lessThan(mine, other) && !lessThan(other, mine) && m < j;
            if (before || tiedBefore) ++rank;
        }
        if (rank < k) {
            const int64_t at = (o * k + rank) * inner + i;
            values[at] = line[j * inner];
            if (indices) indices[at] = j;
        }
    }
}

class TopKKernel : public Kernel {
public:
    explicit TopKKernel(const Node& node)
        : mName(node.describe()),
          mType(node.input(0)->dtype),
          mAxis(node.attrs.getInt("axis", -1)),
          mLargest(node.attrs.getInt("largest", 1) != 0) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        auto axis = normalizeAxis(mAxis, static_cast<int64_t>(x.size()));
        if (!axis) return invalidArgument(mName + ": axis " + std::to_string(mAxis) + " is out of range for rank " +
                                          std::to_string(x.size()));
        const size_t a = static_cast<size_t>(*axis);
        mOuter = shapeElementCount(Shape(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(a)));
        mExtent = x[a];
        mInner = shapeElementCount(Shape(x.begin() + static_cast<std::ptrdiff_t>(a) + 1, x.end()));
        const Shape& y = outputs[0].shape;
        mK = y.size() == x.size() ? y[a] : -1;
        Shape expected = x;
        expected[a] = mK;
        if (mK < 0 || mK > mExtent || y != expected)
            return invalidArgument(mName + ": output " + shapeToString(y, true) + " is not input " + shapeToString(x, true) +
                                   " with K (at most " + std::to_string(mExtent) + ") elements along axis " +
                                   std::to_string(a));
        if (outputs.size() > 1 && outputs[1].data && (outputs[1].shape != y || outputs[1].dtype != DataType::kINT64))
            return invalidArgument(mName + ": the indices must be int64 of the values' shape");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const int64_t total = mOuter * mExtent * mInner;
        if (total == 0 || mK == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        int64_t* indices = io.numOutputs > 1 ? static_cast<int64_t*>(io.output(1).data) : nullptr;
        switch (mType) {
            case DataType::kFLOAT: launch<float>(io, indices, total, stream); break;
            case DataType::kHALF: launch<__half>(io, indices, total, stream); break;
            case DataType::kDOUBLE: launch<double>(io, indices, total, stream); break;
            case DataType::kINT32: launch<int32_t>(io, indices, total, stream); break;
            case DataType::kINT64: launch<int64_t>(io, indices, total, stream); break;
            case DataType::kINT8: launch<int8_t>(io, indices, total, stream); break;
            case DataType::kUINT8: launch<uint8_t>(io, indices, total, stream); break;
            case DataType::kUINT32: launch<uint32_t>(io, indices, total, stream); break;
            case DataType::kUINT64: launch<uint64_t>(io, indices, total, stream); break;
            default: return unsupported(mName + ": no CUDA kernel for " + dataTypeName(mType));
        }
        return launchStatus("topkRankKernel");
    }

    std::string tacticName() const override { return std::string("cuda.topk_rank_") + tacticTypeSuffix(mType); }

private:
    template <typename T>
    void launch(const KernelIO& io, int64_t* indices, int64_t total, cudaStream_t stream) {
        topkRankKernel<T><<<elementwiseGrid(total), kElementwiseBlock, 0, stream>>>(
            static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), indices, mOuter, mExtent,
            mInner, mK, mLargest);
    }

    std::string mName;
    DataType mType;
    int64_t mAxis;
    bool mLargest;
    int64_t mOuter{0}, mExtent{0}, mInner{0}, mK{0};
};

bool topkSupported(const Node& node, std::string* reason) {
    return inputsHaveType(node, 0, 1,
                          {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64,
                           DataType::kINT8, DataType::kUINT8, DataType::kUINT32, DataType::kUINT64},
                          reason);
}

}  // namespace

void registerTopKKernels(CudaKernelRegistry& registry) {
    registry.add({"TopK", topkSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<TopKKernel>(node));
                  }});
}

}  // namespace kiln::cuda
