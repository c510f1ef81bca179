// Activations: Relu Sigmoid Tanh (unary maps) and Softmax over the last axis, on float and float16
// (computed in float).

#include <cuda_fp16.h>

#include <climits>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"

namespace kiln::cuda {

namespace {

struct ReluFn {
    __device__ float operator()(float x) const { return x > 0.f ? x : 0.f; }
};
struct SigmoidFn {
    __device__ float operator()(float x) const { return 1.f / (1.f + expf(-x)); }
};
struct TanhFn {
    __device__ float operator()(float x) const { return tanhf(x); }
};

struct MaxOp {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct SumOp {
    __device__ float operator()(float a, float b) const { return a + b; }
};

/// Every thread of the block gets the reduction of `v` over the block. `scratch` holds kBlock/32 + 1
/// floats and may be reused right after the call returns.
template <int kBlock, typename Op>
__device__ float blockAllReduce(float v, Op op, float identity, float* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
    if constexpr (kBlock == 32) {
        return v;
    } else {
        constexpr int kWarps = kBlock / 32;
        const int warp = threadIdx.x / 32;
        const int lane = threadIdx.x % 32;
        if (lane == 0) scratch[warp] = v;
        __syncthreads();
        if (warp == 0) {
            v = lane < kWarps ? scratch[lane] : identity;
            for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
            if (lane == 0) scratch[kWarps] = v;
        }
        __syncthreads();
        float result = scratch[kWarps];
        __syncthreads();
        return result;
    }
}

// One block per row of `cols` contiguous elements: max, then the sum of exp(x - max), then the output;
// subtracting the max keeps exp from overflowing.
template <typename T, int kBlock>
__global__ void softmaxRowsKernel(const T* in, T* out, int64_t cols) {
    __shared__ float scratch[kBlock / 32 + 1];
    const T* x = in + static_cast<int64_t>(blockIdx.x) * cols;
    T* y = out + static_cast<int64_t>(blockIdx.x) * cols;

    float maxValue = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += kBlock) maxValue = fmaxf(maxValue, toFloat(x[c]));
    maxValue = blockAllReduce<kBlock>(maxValue, MaxOp{}, -INFINITY, scratch);

    float sum = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += kBlock) sum += expf(toFloat(x[c]) - maxValue);
    sum = blockAllReduce<kBlock>(sum, SumOp{}, 0.f, scratch);

    for (int64_t c = threadIdx.x; c < cols; c += kBlock) y[c] = fromFloat<T>(expf(toFloat(x[c]) - maxValue) / sum);
}

template <typename T>
Status launchSoftmaxRows(const void* in, void* out, int64_t rows, int64_t cols, cudaStream_t stream) {
    const T* src = static_cast<const T*>(in);
    T* dst = static_cast<T*>(out);
    const unsigned grid = static_cast<unsigned>(rows);
    // The narrowest block that still gives each thread work: short rows waste fewer idle threads.
    if (cols <= 32)
        softmaxRowsKernel<T, 32><<<grid, 32, 0, stream>>>(src, dst, cols);
    else if (cols <= 64)
        softmaxRowsKernel<T, 64><<<grid, 64, 0, stream>>>(src, dst, cols);
    else if (cols <= 128)
        softmaxRowsKernel<T, 128><<<grid, 128, 0, stream>>>(src, dst, cols);
    else
        softmaxRowsKernel<T, 256><<<grid, 256, 0, stream>>>(src, dst, cols);
    return launchStatus("softmaxRowsKernel");
}

class SoftmaxKernel : public Kernel {
public:
    explicit SoftmaxKernel(DataType type) : mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].shape != outputs[0].shape || inputs[0].rank() == 0 ||
            inputs[0].dtype != mType || outputs[0].dtype != mType)
            return invalidArgument(tacticName() + ": input and output must be " + dataTypeName(mType) +
                                   " tensors of one shape of rank >= 1");
        mCols = inputs[0].shape.back();
        mRows = mCols == 0 ? 0 : inputs[0].elementCount() / mCols;
        if (mRows > INT_MAX)
            return unsupported(tacticName() + ": " + std::to_string(mRows) + " rows exceed one launch's grid");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mRows == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mType == DataType::kHALF)
            return launchSoftmaxRows<__half>(io.input(0).data, io.output(0).data, mRows, mCols, stream);
        return launchSoftmaxRows<float>(io.input(0).data, io.output(0).data, mRows, mCols, stream);
    }

    std::string tacticName() const override { return std::string("cuda.softmax_lastaxis_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    int64_t mRows{0};
    int64_t mCols{0};
};

bool softmaxSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kHALF}, reason)) return false;
    const int64_t rank = static_cast<int64_t>(node.input(0)->shape.size());
    const int64_t axisAttr = node.attrs.getInt("axis", -1);
    std::optional<int64_t> axis = normalizeAxis(axisAttr, rank);
    if (!axis) {
        if (reason) *reason = "axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(rank);
        return false;
    }
    if (*axis != rank - 1) {
        if (reason)
            *reason = "the CUDA Softmax handles the last axis only; axis " + std::to_string(axisAttr) + " of rank " +
                      std::to_string(rank) + " is not the last";
        return false;
    }
    return true;
}

}  // namespace

void registerActivationKernels(CudaKernelRegistry& registry) {
    registerUnaryKernel<ReluFn>(registry, "Relu", "relu");
    registerUnaryKernel<SigmoidFn>(registry, "Sigmoid", "sigmoid");
    registerUnaryKernel<TanhFn>(registry, "Tanh", "tanh");
    registry.add(
        {"Softmax", softmaxSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
             return std::unique_ptr<Kernel>(std::make_unique<SoftmaxKernel>(node.input(0)->dtype));
         }});
}

}  // namespace kiln::cuda
