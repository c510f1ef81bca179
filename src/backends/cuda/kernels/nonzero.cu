// NonZero on the device, for inputs of rank 1..8 and the numeric and bool types below. The output shape
// [rank, count] depends on the values: computeOutputShapes() counts the non-zero elements with one
// kernel and reads the count back (the only device-to-host copy, into pinned memory, and a wait); run()
// selects the linear indices of the non-zero elements in order (CUB's DeviceSelect::If, its scratch in
// the workspace) and spreads each into its coordinates. The wait keeps a run that must learn the count
// out of a CUDA graph. Other types and ranks go through the host evaluation in value_dependent.cpp.

#include "backends/cuda/kernels/nonzero.h"

#include <cub/device/device_select.cuh>
#include <cuda_fp16.h>
#include <thrust/iterator/counting_iterator.h>

#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"

namespace kiln::cuda {

namespace {

template <typename T>
__device__ __forceinline__ bool isNonZero(T v) {
    return v != T(0);
}
template <>
__device__ __forceinline__ bool isNonZero<__half>(__half v) {
    return __half2float(v) != 0.0f;
}
template <>
__device__ __forceinline__ bool isNonZero<bool>(bool v) {
    return v;
}

template <typename T>
struct NonZeroAt {
    const T* x;
    __device__ bool operator()(int64_t i) const { return isNonZero(x[i]); }
};

template <typename T>
__global__ void countNonZeroKernel(const T* x, int64_t count, unsigned long long* total) {
    unsigned long long local = 0;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        local += isNonZero(x[i]) ? 1 : 0;
    if (local) atomicAdd(total, local);
}

struct NonZeroDims {
    int rank;
    int64_t extents[kMaxDims];
};

/// Output row d, column j: coordinate d of the j-th non-zero element.
__global__ void coordinatesKernel(const int64_t* linear, int64_t count, NonZeroDims dims, int64_t* y) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < count; j += stride) {
        int64_t rest = linear[j];
        for (int d = dims.rank - 1; d >= 0; --d) {
            y[d * count + j] = rest % dims.extents[d];
            rest /= dims.extents[d];
        }
    }
}

size_t alignUp(size_t bytes) { return (bytes + 255) / 256 * 256; }

class NonZeroKernel : public Kernel {
public:
    explicit NonZeroKernel(const Node& node) : mName(node.describe()), mType(node.input(0)->dtype) {}
    ~NonZeroKernel() override {
        if (mDeviceCount) cudaFree(mDeviceCount);
        if (mHostCount) cudaFreeHost(mHostCount);
    }

    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        const TensorView& x = io.input(0);
        if (!mDeviceCount) {
            KILN_CUDA_RETURN_IF_ERROR(cudaMalloc(reinterpret_cast<void**>(&mDeviceCount), sizeof(unsigned long long)));
            KILN_CUDA_RETURN_IF_ERROR(cudaMallocHost(reinterpret_cast<void**>(&mHostCount), sizeof(unsigned long long)));
        }
        KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(mDeviceCount, 0, sizeof(unsigned long long), stream));
        const int64_t n = x.elementCount();
        if (n > 0) {
            KILN_RETURN_IF_ERROR(dispatch([&](auto tag) {
                using T = decltype(tag);
                countNonZeroKernel<T><<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(static_cast<const T*>(x.data), n,
                                                                                           mDeviceCount);
            }));
            KILN_RETURN_IF_ERROR(launchStatus("countNonZeroKernel"));
        }
        KILN_CUDA_RETURN_IF_ERROR(
            cudaMemcpyAsync(mHostCount, mDeviceCount, sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream));
        KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
        return std::vector<Shape>{Shape{x.rank(), static_cast<int64_t>(*mHostCount)}};
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& y = outputs[0].shape;
        if (y.size() != 2 || y[0] != static_cast<int64_t>(x.size()) || outputs[0].dtype != DataType::kINT64)
            return invalidArgument(mName + ": the output " + shapeToString(y, true) + " must be int64 [" +
                                   std::to_string(x.size()) + ", count]");
        mInputCount = inputs[0].elementCount();
        mSelected = y[1];
        if (mSelected > mInputCount)
            return invalidArgument(mName + ": " + std::to_string(mSelected) + " non-zero elements in " +
                                   std::to_string(mInputCount));
        mDims.rank = static_cast<int>(x.size());
        for (size_t d = 0; d < x.size(); ++d) mDims.extents[d] = x[d];
        // CUB's scratch size depends only on the element count.
        mScratchBytes = 0;
        if (mInputCount > 0) {
            cudaError_t error = cudaSuccess;
            KILN_RETURN_IF_ERROR(dispatch([&](auto tag) {
                using T = decltype(tag);
                error = cub::DeviceSelect::If(nullptr, mScratchBytes, thrust::counting_iterator<int64_t>(0),
                                              static_cast<int64_t*>(nullptr), static_cast<int64_t*>(nullptr),
                                              mInputCount, NonZeroAt<T>{nullptr}, cudaStream_t{});
            }));
            KILN_CUDA_RETURN_IF_ERROR(error);
        }
        return Status::ok();
    }

    /// CUB's scratch, the selected linear indices (up to every element) and their count.
    size_t workspaceSize() const override {
        return alignUp(mScratchBytes) + alignUp(static_cast<size_t>(mInputCount) * sizeof(int64_t)) + sizeof(int64_t);
    }

    Status run(const KernelIO& io) override {
        if (mSelected == 0 || mInputCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        auto* base = static_cast<unsigned char*>(io.workspace);
        auto* linear = reinterpret_cast<int64_t*>(base + alignUp(mScratchBytes));
        auto* found = reinterpret_cast<int64_t*>(base + alignUp(mScratchBytes) +
                                                 alignUp(static_cast<size_t>(mInputCount) * sizeof(int64_t)));
        size_t scratch = mScratchBytes;
        cudaError_t error = cudaSuccess;
        KILN_RETURN_IF_ERROR(dispatch([&](auto tag) {
            using T = decltype(tag);
            error = cub::DeviceSelect::If(base, scratch, thrust::counting_iterator<int64_t>(0), linear, found, mInputCount,
                                          NonZeroAt<T>{static_cast<const T*>(io.input(0).data)}, stream);
        }));
        KILN_CUDA_RETURN_IF_ERROR(error);
        coordinatesKernel<<<elementwiseGrid(mSelected), kElementwiseBlock, 0, stream>>>(
            linear, mSelected, mDims, static_cast<int64_t*>(io.output(0).data));
        return launchStatus("coordinatesKernel");
    }

    std::string tacticName() const override { return std::string("cuda.nonzero_select_") + tacticTypeSuffix(mType); }

    bool isCapturable(std::string* reason) const override {
        if (reason) *reason = "NonZero's output shape depends on its input values: the count is read back to the host";
        return false;
    }

private:
    template <typename F>
    Status dispatch(const F& f) const {
        switch (mType) {
            case DataType::kFLOAT: f(float{}); break;
            case DataType::kHALF: f(__half{}); break;
            case DataType::kDOUBLE: f(double{}); break;
            case DataType::kINT8: f(int8_t{}); break;
            case DataType::kUINT8: f(uint8_t{}); break;
            case DataType::kINT32: f(int32_t{}); break;
            case DataType::kINT64: f(int64_t{}); break;
            case DataType::kBOOL: f(bool{}); break;
            default: return unsupported(mName + ": no CUDA NonZero for " + dataTypeName(mType));
        }
        return Status::ok();
    }

    std::string mName;
    DataType mType;
    unsigned long long* mDeviceCount{nullptr};
    unsigned long long* mHostCount{nullptr};
    int64_t mInputCount{0};
    int64_t mSelected{0};
    NonZeroDims mDims{};
    size_t mScratchBytes{0};
};

}  // namespace

std::unique_ptr<Kernel> makeDeviceNonZero(const Node& node) {
    const Value* x = node.input(0);
    if (!x || x->shape.empty() || x->shape.size() > static_cast<size_t>(kMaxDims)) return nullptr;
    switch (x->dtype) {
        case DataType::kFLOAT:
        case DataType::kHALF:
        case DataType::kDOUBLE:
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT32:
        case DataType::kINT64:
        case DataType::kBOOL: return std::make_unique<NonZeroKernel>(node);
        default: return nullptr;
    }
}

}  // namespace kiln::cuda
