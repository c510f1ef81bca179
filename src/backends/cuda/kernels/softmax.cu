// Softmax, LogSoftmax and Hardmax along one axis (opset 13; older opsets are upgraded by the frontend),
// on float, float16 and bfloat16 (computed in float) and double (computed in double). The input is viewed as (outer, axis, inner):
//  - inner == 1 (the axis is innermost, the common case): a row of up to 1024 elements is one warp's,
//    held in registers (one read, one write; a block serves eight rows, so a batch of attention scores is
//    a few waves rather than one block per row); a longer row is one block's, with block-wide max and
//    sum reductions over three passes;
//  - inner > 1: one thread per (outer, inner) column walking the axis, so neighbouring threads read
//    neighbouring elements.
// Hardmax always takes the column form (a thread per row when inner == 1): it only compares, and the
// first maximum must win, which a thread's ordered walk gives for free.

#include <cuda_fp16.h>

#include <climits>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

enum class AxisOp : int { kSoftmax, kLogSoftmax, kHardmax };

const char* axisOpName(AxisOp op) {
    switch (op) {
        case AxisOp::kSoftmax: return "softmax";
        case AxisOp::kLogSoftmax: return "log_softmax";
        case AxisOp::kHardmax: return "hardmax";
    }
    return "";
}

/// The output of element x of a row with maximum `maxValue` and `factor` (Softmax: 1 / sum of
/// exponentials; LogSoftmax: log of that sum). (x - max) first for LogSoftmax: exact for values near the
/// maximum, where x - (max + log(sum)) would lose the small result to the rounding of a large shift.
template <AxisOp kOp, typename C>
__device__ __forceinline__ C axisOutput(C x, C maxValue, C factor) {
    if constexpr (kOp == AxisOp::kSoftmax) return exp(x - maxValue) * factor;
    else return (x - maxValue) - factor;
}

template <AxisOp kOp, typename C>
__device__ __forceinline__ C axisFactor(C sum) {
    if constexpr (kOp == AxisOp::kSoftmax) return C(1) / sum;
    else return log(sum);
}

// One block per row of `cols` contiguous elements (Softmax and LogSoftmax).
template <typename T, AxisOp kOp, int kBlock>
__global__ void axisRowsKernel(const T* in, T* out, int64_t cols) {
    using C = Compute<T>;
    __shared__ C scratch[kBlock / 32 + 1];
    const T* x = in + static_cast<int64_t>(blockIdx.x) * cols;
    T* y = out + static_cast<int64_t>(blockIdx.x) * cols;

    C maxValue = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += kBlock) maxValue = fmax(maxValue, load(x[c]));
    maxValue = blockMax<kBlock>(maxValue, scratch);

    C sum = 0;
    for (int64_t c = threadIdx.x; c < cols; c += kBlock) sum += exp(load(x[c]) - maxValue);
    const C factor = axisFactor<kOp>(blockSum<kBlock>(sum, scratch));

    for (int64_t c = threadIdx.x; c < cols; c += kBlock) y[c] = store<T>(axisOutput<kOp>(load(x[c]), maxValue, factor));
}

/// Rows a block of the warp-row kernel serves: one per warp.
constexpr int kWarpRowsPerBlock = 8;
/// The longest row a warp holds in registers (32 lanes x 32 elements).
constexpr int64_t kMaxWarpRow = 32 * 32;

// One warp per row of `cols` <= 32 * kPerLane contiguous elements, each lane holding every 32nd element
// in registers: the same max, sum and output as axisRowsKernel, from one read of the row.
template <typename T, AxisOp kOp, int kPerLane>
__global__ void axisWarpRowsKernel(const T* in, T* out, int64_t rows, int cols) {
    using C = Compute<T>;
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpRowsPerBlock + threadIdx.x / 32;
    if (row >= rows) return;  // a whole warp leaves together: the reductions below see full warps only
    const T* x = in + row * cols;
    T* y = out + row * cols;
    C v[kPerLane];
    C maxValue = -INFINITY;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
        const int c = lane + i * 32;
        v[i] = c < cols ? load(x[c]) : C(-INFINITY);
        maxValue = fmax(maxValue, v[i]);
    }
    maxValue = blockMax<32>(maxValue, static_cast<C*>(nullptr));
    C sum = 0;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i)
        if (lane + i * 32 < cols) sum += exp(v[i] - maxValue);
    const C factor = axisFactor<kOp>(blockSum<32>(sum, static_cast<C*>(nullptr)));
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
        const int c = lane + i * 32;
        if (c < cols) y[c] = store<T>(axisOutput<kOp>(v[i], maxValue, factor));
    }
}

template <typename T, AxisOp kOp, int kPerLane>
void launchWarpRows(const T* src, T* dst, int64_t rows, int64_t cols, cudaStream_t stream) {
    const auto grid = static_cast<unsigned>((rows + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock);
    axisWarpRowsKernel<T, kOp, kPerLane>
        <<<grid, 32 * kWarpRowsPerBlock, 0, stream>>>(src, dst, rows, static_cast<int>(cols));
}

// One thread per (outer, inner) column of `axis` elements `inner` apart.
template <typename T, AxisOp kOp>
__global__ void axisColumnsKernel(const T* in, T* out, int64_t outer, int64_t axis, int64_t inner) {
    const int64_t columns = outer * inner;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; col < columns; col += step) {
        const int64_t base = (col / inner) * axis * inner + col % inner;
        const T* x = in + base;
        T* y = out + base;
        using C = Compute<T>;
        if constexpr (kOp == AxisOp::kHardmax) {
            // The first maximum wins; NaN never compares greater, as in the CPU kernel.
            C maxValue = -INFINITY;
            int64_t maxIndex = 0;
            for (int64_t j = 0; j < axis; ++j) {
                const C v = load(x[j * inner]);
                if (v > maxValue) {
                    maxValue = v;
                    maxIndex = j;
                }
            }
            for (int64_t j = 0; j < axis; ++j) y[j * inner] = store<T>(j == maxIndex ? C(1) : C(0));
        } else {
            C maxValue = -INFINITY;
            for (int64_t j = 0; j < axis; ++j) maxValue = fmax(maxValue, load(x[j * inner]));
            C sum = 0;
            for (int64_t j = 0; j < axis; ++j) sum += exp(load(x[j * inner]) - maxValue);
            const C factor = axisFactor<kOp>(sum);
            for (int64_t j = 0; j < axis; ++j)
                y[j * inner] = store<T>(axisOutput<kOp>(load(x[j * inner]), maxValue, factor));
        }
    }
}

template <typename T, AxisOp kOp>
Status launchAxisOp(const void* in, void* out, int64_t outer, int64_t axis, int64_t inner, cudaStream_t stream) {
    const T* src = static_cast<const T*>(in);
    T* dst = static_cast<T*>(out);
    if constexpr (kOp != AxisOp::kHardmax) {
        if (inner == 1 && axis <= kMaxWarpRow && (outer + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock <= INT_MAX) {
            // The fewest registers per lane that hold the row.
            if (axis <= 32) launchWarpRows<T, kOp, 1>(src, dst, outer, axis, stream);
            else if (axis <= 64) launchWarpRows<T, kOp, 2>(src, dst, outer, axis, stream);
            else if (axis <= 128) launchWarpRows<T, kOp, 4>(src, dst, outer, axis, stream);
            else if (axis <= 256) launchWarpRows<T, kOp, 8>(src, dst, outer, axis, stream);
            else if (axis <= 512) launchWarpRows<T, kOp, 16>(src, dst, outer, axis, stream);
            else launchWarpRows<T, kOp, 32>(src, dst, outer, axis, stream);
            return launchStatus("axisWarpRowsKernel");
        }
        if (inner == 1 && outer <= INT_MAX) {
            const unsigned grid = static_cast<unsigned>(outer);
            // The narrowest block that still gives each thread work: short rows waste fewer idle threads.
            if (axis <= 32)
                axisRowsKernel<T, kOp, 32><<<grid, 32, 0, stream>>>(src, dst, axis);
            else if (axis <= 64)
                axisRowsKernel<T, kOp, 64><<<grid, 64, 0, stream>>>(src, dst, axis);
            else if (axis <= 128)
                axisRowsKernel<T, kOp, 128><<<grid, 128, 0, stream>>>(src, dst, axis);
            else
                axisRowsKernel<T, kOp, 256><<<grid, 256, 0, stream>>>(src, dst, axis);
            return launchStatus("axisRowsKernel");
        }
    }
    axisColumnsKernel<T, kOp><<<elementwiseGrid(outer * inner), kElementwiseBlock, 0, stream>>>(src, dst, outer, axis,
                                                                                                inner);
    return launchStatus("axisColumnsKernel");
}

template <AxisOp kOp>
class AxisOpKernel : public Kernel {
public:
    AxisOpKernel(const Node& node, DataType type)
        : mAxisAttr(node.attrs.getInt("axis", -1)), mType(type), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].shape != outputs[0].shape || inputs[0].dtype != mType ||
            outputs[0].dtype != mType)
            return invalidArgument(mName + ": input and output must be " + dataTypeName(mType) +
                                   " tensors of one shape");
        const Shape& shape = inputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(shape.size()));
        if (!axis)
            return invalidArgument(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range for rank " +
                                   std::to_string(shape.size()));
        mOuter = 1;
        mAxis = 1;
        mInner = 1;
        for (size_t d = 0; d < shape.size(); ++d) {
            const size_t a = static_cast<size_t>(*axis);
            if (d < a) mOuter *= shape[d];
            else if (d == a) mAxis = shape[d];
            else mInner *= shape[d];
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mOuter * mAxis * mInner == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        return FloatTypes::dispatchStatus(mType, internalError(mName + ": no kernel for " + dataTypeName(mType)),
                                          [&](auto tag) {
                                              return launchAxisOp<decltype(tag), kOp>(io.input(0).data, io.output(0).data,
                                                                                      mOuter, mAxis, mInner, stream);
                                          });
    }

    std::string tacticName() const override {
        return std::string("cuda.") + axisOpName(kOp) + (mInner == 1 ? "_rows_" : "_columns_") +
               tacticTypeSuffix(mType);
    }

private:
    int64_t mAxisAttr;
    DataType mType;
    std::string mName;
    int64_t mOuter{1}, mAxis{1}, mInner{1};
};

bool axisOpSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1, FloatTypes::types(), reason)) return false;
    const int64_t rank = static_cast<int64_t>(node.input(0)->shape.size());
    const int64_t axisAttr = node.attrs.getInt("axis", -1);
    if (!normalizeAxis(axisAttr, rank)) {
        if (reason) *reason = "axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(rank);
        return false;
    }
    return true;
}

template <AxisOp kOp>
void registerAxisOp(CudaKernelRegistry& registry, const std::string& opType) {
    registry.add({opType, axisOpSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<AxisOpKernel<kOp>>(node, node.input(0)->dtype));
                  }});
}

}  // namespace

void registerSoftmaxKernels(CudaKernelRegistry& registry) {
    registerAxisOp<AxisOp::kSoftmax>(registry, "Softmax");
    registerAxisOp<AxisOp::kLogSoftmax>(registry, "LogSoftmax");
    registerAxisOp<AxisOp::kHardmax>(registry, "Hardmax");
}

}  // namespace kiln::cuda
