// ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceSumSquare ReduceL1 ReduceL2 ReduceLogSum
// ReduceLogSumExp on float, float16, bfloat16 and double, over any set of axes (attribute, or the
// opset-18 axes input); ReduceMax and ReduceMin also on the integer types and bool (compared in their own
// type; an empty set gives the type's lowest / highest value, false / true for bool). Floats accumulate
// in double, as the CPU backend does. Short reductions: one thread per output element walks its reduced
// elements through their strides. Long ones (kSplitMinimum elements or more per output: a channels-last
// global pooling reduces H x W elements for each of a few channels) would leave most of the GPU idle that
// way, so a block of 32 outputs x 8 rows of threads shares each output's elements, and the reduced range
// is further split over a grid row of blocks whose partial results a second kernel combines (through the
// kernel's workspace). Consecutive threads take consecutive outputs, so channels-last reads coalesce.

#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/index_values.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/reduction_axes.h"

namespace kiln::cuda {

namespace {

enum class ReduceKind : int { kSum, kMean, kMax, kMin, kProd, kSumSquare, kL1, kL2, kLogSum, kLogSumExp };

constexpr int kMaxReduceRank = 8;

struct ReducePlan {
    int keptRank{0};
    int64_t keptDims[kMaxReduceRank]{};
    int64_t keptStrides[kMaxReduceRank]{};
    int reducedRank{0};
    int64_t reducedDims[kMaxReduceRank]{};
    int64_t reducedStrides[kMaxReduceRank]{};
    int64_t outputCount{0};
    int64_t reducedCount{1};
};

__device__ __forceinline__ int64_t decompose(int rank, const int64_t* dims, const int64_t* strides, int64_t index) {
    int64_t offset = 0;
    for (int d = rank - 1; d >= 0; --d) {
        offset += (index % dims[d]) * strides[d];
        index /= dims[d];
    }
    return offset;
}

using ReduceFloatTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;
// ReduceMax and ReduceMin also take these, compared in their own type.
using ExtremeTypes = DeviceTypes<int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t, bool>;

template <typename T>
__device__ __forceinline__ double toDouble(T v) {
    return static_cast<double>(load(v));
}

template <typename T>
__device__ __forceinline__ T fromDouble(double v) {
    if constexpr (std::is_same_v<T, __half>) return __double2half(v);
    else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __double2bfloat16(v);
    else return static_cast<T>(v);
}

/// ReduceMax / ReduceMin of integers and bool, in their own type (bool: or / and).
template <typename T, bool kMax>
__global__ void reduceExtremeKernel(const T* in, T* out, ReducePlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < plan.outputCount; o += step) {
        const T* base = in + decompose(plan.keptRank, plan.keptDims, plan.keptStrides, o);
        T acc = kMax ? Limits<T>::kLowest : Limits<T>::kMax;
        for (int64_t r = 0; r < plan.reducedCount; ++r) {
            const T v = base[decompose(plan.reducedRank, plan.reducedDims, plan.reducedStrides, r)];
            if (kMax ? v > acc : v < acc) acc = v;
        }
        out[o] = acc;
    }
}

template <ReduceKind kKind>
__device__ __forceinline__ double reduceIdentity() {
    if constexpr (kKind == ReduceKind::kMax) return -DBL_MAX;
    else if constexpr (kKind == ReduceKind::kMin) return DBL_MAX;
    else if constexpr (kKind == ReduceKind::kProd) return 1.0;
    else return 0.0;
}

/// One element into an accumulator (LogSumExp: its exponential shifted by the maximum `shift`).
template <ReduceKind kKind>
__device__ __forceinline__ double reduceElement(double acc, double v, double shift) {
    if constexpr (kKind == ReduceKind::kMax) return fmax(acc, v);
    else if constexpr (kKind == ReduceKind::kMin) return fmin(acc, v);
    else if constexpr (kKind == ReduceKind::kProd) return acc * v;
    else if constexpr (kKind == ReduceKind::kSumSquare || kKind == ReduceKind::kL2) return acc + v * v;
    else if constexpr (kKind == ReduceKind::kL1) return acc + fabs(v);
    else if constexpr (kKind == ReduceKind::kLogSumExp) return acc + exp(v - shift);
    else return acc + v;
}

/// Two partial accumulators into one.
template <ReduceKind kKind>
__device__ __forceinline__ double reducePartials(double a, double b) {
    if constexpr (kKind == ReduceKind::kMax) return fmax(a, b);
    else if constexpr (kKind == ReduceKind::kMin) return fmin(a, b);
    else if constexpr (kKind == ReduceKind::kProd) return a * b;
    else return a + b;
}

template <ReduceKind kKind>
__device__ __forceinline__ double reduceResult(double acc, int64_t count, double shift) {
    if constexpr (kKind == ReduceKind::kMean) return acc / static_cast<double>(count);
    else if constexpr (kKind == ReduceKind::kL2) return sqrt(acc);
    else if constexpr (kKind == ReduceKind::kLogSum) return log(acc);
    else if constexpr (kKind == ReduceKind::kLogSumExp) return count ? log(acc) + shift : log(0.0);
    else return acc;
}

template <typename T, ReduceKind kKind>
__global__ void reduceKernel(const T* in, T* out, ReducePlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < plan.outputCount; o += step) {
        const T* base = in + decompose(plan.keptRank, plan.keptDims, plan.keptStrides, o);
        double shift = -DBL_MAX;  // LogSumExp: shifts the exponentials so none overflows
        if constexpr (kKind == ReduceKind::kLogSumExp)
            for (int64_t r = 0; r < plan.reducedCount; ++r)
                shift = fmax(shift, toDouble(base[decompose(plan.reducedRank, plan.reducedDims, plan.reducedStrides, r)]));
        double acc = reduceIdentity<kKind>();
        for (int64_t r = 0; r < plan.reducedCount; ++r)
            acc = reduceElement<kKind>(
                acc, toDouble(base[decompose(plan.reducedRank, plan.reducedDims, plan.reducedStrides, r)]), shift);
        out[o] = fromDouble<T>(reduceResult<kKind>(acc, plan.reducedCount, shift));
    }
}

// The split reduction (not for LogSumExp, whose shift needs a pass of its own): block (32, kSplitRows).
constexpr int64_t kSplitMinimum = 64;       // reduced elements per output from which it is used
constexpr int kSplitRows = 8;               // thread rows of a block sharing one output's elements
constexpr int64_t kSplitChunk = 512;        // reduced elements per block and output (64 per thread)
constexpr int64_t kMaxSplits = 128;         // grid rows at most
constexpr int64_t kSplitBusyBlocks = 1024;  // output blocks that fill the GPU without splitting further

/// Grid rows over the reduced range: enough for kSplitChunk elements each, fewer when the outputs alone
/// give the GPU enough blocks.
int64_t splitCount(int64_t outputCount, int64_t reducedCount) {
    if (outputCount <= 0 || reducedCount < kSplitMinimum) return 0;
    const int64_t outputBlocks = (outputCount + 31) / 32;
    const int64_t wanted = std::min<int64_t>((reducedCount + kSplitChunk - 1) / kSplitChunk, kMaxSplits);
    return std::max<int64_t>(1, std::min<int64_t>(wanted, kSplitBusyBlocks / outputBlocks));
}

/// Block (bx, by) reduces outputs 32 bx .. 32 bx + 31 over the by-th slice of their reduced range; with one
/// slice it writes the results, else the slice's partial accumulators to partials[by * outputCount + o].
template <typename T, ReduceKind kKind>
__global__ void reduceSplitKernel(const T* in, T* out, double* partials, ReducePlan plan, int64_t slice) {
    __shared__ double rows[kSplitRows][33];
    const int64_t o = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
    const int64_t begin = static_cast<int64_t>(blockIdx.y) * slice;
    const int64_t end = min(begin + slice, plan.reducedCount);
    double acc = reduceIdentity<kKind>();
    if (o < plan.outputCount) {
        const T* base = in + decompose(plan.keptRank, plan.keptDims, plan.keptStrides, o);
        for (int64_t r = begin + threadIdx.y; r < end; r += kSplitRows)
            acc = reduceElement<kKind>(
                acc, toDouble(base[decompose(plan.reducedRank, plan.reducedDims, plan.reducedStrides, r)]), 0.0);
    }
    rows[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y != 0 || o >= plan.outputCount) return;
    for (int y = 1; y < kSplitRows; ++y) acc = reducePartials<kKind>(acc, rows[y][threadIdx.x]);
    if (gridDim.y == 1) out[o] = fromDouble<T>(reduceResult<kKind>(acc, plan.reducedCount, 0.0));
    else partials[blockIdx.y * plan.outputCount + o] = acc;
}

template <typename T, ReduceKind kKind>
__global__ void reduceSplitResultKernel(const double* partials, T* out, ReducePlan plan, int64_t splits) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < plan.outputCount; o += step) {
        double acc = partials[o];
        for (int64_t s = 1; s < splits; ++s) acc = reducePartials<kKind>(acc, partials[s * plan.outputCount + o]);
        out[o] = fromDouble<T>(reduceResult<kKind>(acc, plan.reducedCount, 0.0));
    }
}

class ReduceKernel : public Kernel {
public:
    ReduceKernel(const Node& node, ReduceKind kind)
        : mKind(kind),
          mType(node.input(0)->dtype),
          mAxesAttr(node.attrs.getInts("axes")),
          mAxesInput(node.input(1)),
          mNoop(node.attrs.getInt("noop_with_empty_axes", 0) != 0),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInputShape = inputs[0].shape;
        mOutputCount = outputs[0].elementCount();
        mResolved = false;
        // Every output reduces inputs / outputs elements, whichever axes the run reads.
        const int64_t inputCount = inputs[0].elementCount();
        mWorkspaceSplits = mOutputCount > 0 ? splitCount(mOutputCount, inputCount / mOutputCount) : 0;
        // Axes known before running (attribute, constant input, or an input folded at these shapes: the usual
        // cases) are planned once here; axes the layers compute, at each run.
        if (!mAxesInput.present()) return plan(mAxesAttr.value_or(std::vector<int64_t>{}));
        if (mAxesInput.isConstant()) return plan(mAxesInput.constantValues());
        if (inputs.size() > 1 && mAxesInput.knownBeforeRun(inputs[1])) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> axes, mAxesInput.read(inputs[1], nullptr, mName + " axes"));
            return plan(axes);
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mResolved) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> axes, mAxesInput.read(io.input(1), static_cast<cudaStream_t>(io.stream),
                                                                              mName + " axes"));
            KILN_RETURN_IF_ERROR(plan(axes));
            mResolved = false;  // computed axes may differ on the next run
        }
        if (mPlan.outputCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (ExtremeTypes::contains(mType)) {
            const unsigned grid = elementwiseGrid(mPlan.outputCount);
            ExtremeTypes::dispatch(mType, [&](auto tag) {
                using T = decltype(tag);
                const T* in = static_cast<const T*>(io.input(0).data);
                T* out = static_cast<T*>(io.output(0).data);
                if (mKind == ReduceKind::kMax)
                    reduceExtremeKernel<T, true><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mPlan);
                else
                    reduceExtremeKernel<T, false><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mPlan);
            });
            return launchStatus("reduceExtremeKernel");
        }
        return ReduceFloatTypes::dispatchStatus(mType, internalError(mName + ": no kernel for " + dataTypeName(mType)),
                                                [&](auto tag) { return launch<decltype(tag)>(io, stream); });
    }

    size_t workspaceSize() const override {
        return mWorkspaceSplits > 1 ? static_cast<size_t>(mWorkspaceSplits * mOutputCount) * sizeof(double) : 0;
    }

    std::string tacticName() const override {
        const bool split = mWorkspaceSplits > 0 && mKind != ReduceKind::kLogSumExp && !ExtremeTypes::contains(mType);
        return std::string(split ? "cuda.reduce_split_" : "cuda.reduce_strided_") + tacticTypeSuffix(mType);
    }
    bool isCapturable(std::string* reason) const override {
        if (mResolved) return true;
        if (reason) *reason = "its axes are computed during the run and read back to the host";
        return false;
    }

private:
    template <typename T>
    Status launch(const KernelIO& io, cudaStream_t stream) {
        const T* in = static_cast<const T*>(io.input(0).data);
        T* out = static_cast<T*>(io.output(0).data);
        const unsigned grid = elementwiseGrid(mPlan.outputCount);
        const int64_t splits = mKind == ReduceKind::kLogSumExp ? 0 : splitCount(mPlan.outputCount, mPlan.reducedCount);
        if (splits > 1 && (splits > mWorkspaceSplits || io.workspaceBytes < workspaceSize()))
            return internalError(mName + ": the split reduction's workspace was not planned for these shapes");
        const int64_t slice = splits > 0 ? (mPlan.reducedCount + splits - 1) / splits : 0;
        const dim3 splitGrid(static_cast<unsigned>((mPlan.outputCount + 31) / 32), static_cast<unsigned>(splits));
        const dim3 splitBlock(32, kSplitRows);
        auto* partials = static_cast<double*>(io.workspace);
        switch (mKind) {
#define KILN_REDUCE_CASE(KIND)                                                                                  \
    case KIND:                                                                                                  \
        if (splits == 0) {                                                                                      \
            reduceKernel<T, KIND><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mPlan);                      \
        } else {                                                                                                \
            reduceSplitKernel<T, KIND><<<splitGrid, splitBlock, 0, stream>>>(in, out, partials, mPlan, slice); \
            if (splits > 1)                                                                                     \
                reduceSplitResultKernel<T, KIND><<<grid, kElementwiseBlock, 0, stream>>>(partials, out, mPlan,  \
                                                                                        splits);               \
        }                                                                                                       \
        break;
            KILN_REDUCE_CASE(ReduceKind::kSum)
            KILN_REDUCE_CASE(ReduceKind::kMean)
            KILN_REDUCE_CASE(ReduceKind::kMax)
            KILN_REDUCE_CASE(ReduceKind::kMin)
            KILN_REDUCE_CASE(ReduceKind::kProd)
            KILN_REDUCE_CASE(ReduceKind::kSumSquare)
            KILN_REDUCE_CASE(ReduceKind::kL1)
            KILN_REDUCE_CASE(ReduceKind::kL2)
            KILN_REDUCE_CASE(ReduceKind::kLogSum)
    case ReduceKind::kLogSumExp:
        reduceKernel<T, ReduceKind::kLogSumExp><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mPlan);
        break;
#undef KILN_REDUCE_CASE
        }
        return launchStatus("reduceKernel");
    }

    Status plan(const std::vector<int64_t>& axes) {
        const int64_t rank = static_cast<int64_t>(mInputShape.size());
        if (rank > kMaxReduceRank) return unsupported(mName + ": inputs of rank > 8 have no CUDA reduction");
        bool reduced[kMaxReduceRank] = {};
        KILN_RETURN_IF_ERROR(markReducedAxes(axes.data(), static_cast<int64_t>(axes.size()), rank, mNoop, reduced)
                                 .withContext(mName));
        mPlan = ReducePlan{};
        int64_t stride = 1;
        int64_t strides[kMaxReduceRank] = {};
        for (int64_t d = rank - 1; d >= 0; --d) {
            strides[d] = stride;
            stride *= mInputShape[static_cast<size_t>(d)];
        }
        for (int64_t d = 0; d < rank; ++d) {
            const int64_t extent = mInputShape[static_cast<size_t>(d)];
            if (reduced[d]) {
                mPlan.reducedDims[mPlan.reducedRank] = extent;
                mPlan.reducedStrides[mPlan.reducedRank++] = strides[d];
                mPlan.reducedCount *= extent;
            } else {
                mPlan.keptDims[mPlan.keptRank] = extent;
                mPlan.keptStrides[mPlan.keptRank++] = strides[d];
            }
        }
        int64_t kept = 1;
        for (int d = 0; d < mPlan.keptRank; ++d) kept *= mPlan.keptDims[d];
        if (kept != mOutputCount)
            return invalidArgument(mName + ": the output holds " + std::to_string(mOutputCount) +
                                   " elements, the axes give " + std::to_string(kept));
        mPlan.outputCount = kept;
        mResolved = true;
        return Status::ok();
    }

    ReduceKind mKind;
    DataType mType;
    std::optional<std::vector<int64_t>> mAxesAttr;
    IndexInput mAxesInput;
    bool mNoop;
    std::string mName;
    Shape mInputShape;
    int64_t mOutputCount{0};
    ReducePlan mPlan;
    bool mResolved{false};
    int64_t mWorkspaceSplits{0};  // split rows the reshaped shapes call for (0: one thread per output)
};

void registerReduce(CudaKernelRegistry& registry, const std::string& op, ReduceKind kind) {
    std::vector<DataType> types = ReduceFloatTypes::types();
    if (kind == ReduceKind::kMax || kind == ReduceKind::kMin)
        for (DataType t : ExtremeTypes::types()) types.push_back(t);
    registry.add({op,
                  [types](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1, types, reason) && ranksAtMost(node, kMaxReduceRank, reason);
                  },
                  [kind](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ReduceKernel>(node, kind));
                  }});
}

}  // namespace

void registerReductionKernels(CudaKernelRegistry& registry) {
    registerReduce(registry, "ReduceSum", ReduceKind::kSum);
    registerReduce(registry, "ReduceMean", ReduceKind::kMean);
    registerReduce(registry, "ReduceMax", ReduceKind::kMax);
    registerReduce(registry, "ReduceMin", ReduceKind::kMin);
    registerReduce(registry, "ReduceProd", ReduceKind::kProd);
    registerReduce(registry, "ReduceSumSquare", ReduceKind::kSumSquare);
    registerReduce(registry, "ReduceL1", ReduceKind::kL1);
    registerReduce(registry, "ReduceL2", ReduceKind::kL2);
    registerReduce(registry, "ReduceLogSum", ReduceKind::kLogSum);
    registerReduce(registry, "ReduceLogSumExp", ReduceKind::kLogSumExp);
}

}  // namespace kiln::cuda
