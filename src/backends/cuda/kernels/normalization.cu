// LayerNormalization and RMSNormalization on float, float16 and double, over the dims from `axis` on
// (flattened into one row), with LayerNormalization's optional Mean and InvStdDev outputs (float, the
// default stash_type). The mean first, then the spread around it (two passes, so a large mean does not
// cancel the variance's digits); RMSNormalization uses the mean square instead and does not centre.
// float16 is computed in float, double in double. A row of up to 1024 elements is one warp's, held in
// registers (one read of the row, in 16-byte runs of 8 for float16 where the addresses allow; four
// rows a block, so thousands of token rows are a few waves); a longer row is one block's, reading the
// row three times.
//
// Scale and B are read per column: they must hold one value per normalized element laid out like the
// row (leading 1s aside), or a single value. Other broadcasts have no CUDA kernel.

#include <cuda_fp16.h>

#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/normalization_attrs.h"

namespace kiln::cuda {

namespace {

template <typename T>
using NormCompute = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
__device__ __forceinline__ NormCompute<T> loadNorm(T v) {
    return static_cast<NormCompute<T>>(v);
}
template <>
__device__ __forceinline__ float loadNorm<__half>(__half v) {
    return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T storeNorm(NormCompute<T> v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half storeNorm<__half>(float v) {
    return __float2half_rn(v);
}

struct NormParams {
    int64_t cols{0};
    double epsilon{1e-5};
    int64_t scaleStride{1};  // 1: one value per column; 0: one value for all
    int64_t biasStride{1};
};

template <typename T, bool kRms, int kBlock>
__global__ void normRowsKernel(const T* in, const T* scale, const T* bias, T* out, float* meanOut, float* invStdOut,
                               NormParams p) {
    using F = NormCompute<T>;
    __shared__ F scratch[kBlock / 32 + 1];
    const int64_t row = blockIdx.x;
    const T* x = in + row * p.cols;
    T* y = out + row * p.cols;
    const F count = static_cast<F>(p.cols);
    F mean = 0;
    if constexpr (!kRms) {
        F sum = 0;
        for (int64_t c = threadIdx.x; c < p.cols; c += kBlock) sum += loadNorm(x[c]);
        mean = blockSum<kBlock>(sum, scratch) / count;
    }
    F squares = 0;
    for (int64_t c = threadIdx.x; c < p.cols; c += kBlock) {
        const F d = loadNorm(x[c]) - mean;
        squares += d * d;
    }
    const F spread = blockSum<kBlock>(squares, scratch) / count;
    const F inverse = F(1) / sqrt(spread + static_cast<F>(p.epsilon));
    for (int64_t c = threadIdx.x; c < p.cols; c += kBlock) {
        F v = (loadNorm(x[c]) - mean) * inverse * loadNorm(scale[c * p.scaleStride]);
        if (bias) v += loadNorm(bias[c * p.biasStride]);
        y[c] = storeNorm<T>(v);
    }
    if (threadIdx.x == 0) {
        if (meanOut) meanOut[row] = static_cast<float>(mean);
        if (invStdOut) invStdOut[row] = static_cast<float>(inverse);
    }
}

/// Warps of a block of the warp-row kernel, and the rows each warp serves. A warp's loads are all issued
/// before its row's reductions; one row a warp in blocks of four warps spreads BERT-base b128's 16384 rows
/// of 768 over two waves whose loads and stores overlap: in a CUDA graph on an H200 a probe of this form
/// took 12.96 us a LayerNorm where two rows a warp in blocks of eight (one wave: every load, then every
/// store) took 14.75, and a plain copy of the same bytes 12.09 (docs/BENCHMARKS.md).
constexpr int kNormWarpsPerBlock = 4;
constexpr int kNormRowsPerWarp = 1;
constexpr int kNormWarpRowsPerBlock = kNormWarpsPerBlock * kNormRowsPerWarp;
/// The longest row a warp holds in registers (32 lanes x 32 elements).
constexpr int64_t kMaxNormWarpRow = 32 * 32;

// A warp per kNormRowsPerWarp rows of p.cols <= 32 * kPerLane elements: the same mean, spread and output
// as normRowsKernel, from one read of the row. Lanes take runs of kVec consecutive elements in turn (the
// row's chunk j of 32 * kVec elements gives lane l its elements j * 32 * kVec + l * kVec + [0, kVec)),
// so kVec > 1 reads and writes them in one access of up to 16 bytes; kVec > 1 needs p.cols % kVec == 0
// (a run is all in the row or all past it), Scale and B of one value per column or one value for all,
// and X, Y, Scale and B aligned to the access (the launch checks). kPackedParams: Scale and B (if any)
// hold one value per column and are read in runs too (one access a run instead of kVec scalar loads
// each: with a 768-wide row those were 48 of a lane's 54 loads).
template <typename T, bool kRms, int kPerLane, int kVec, bool kPackedParams>
__global__ void normWarpRowsKernel(const T* in, const T* scale, const T* bias, T* out, float* meanOut,
                                   float* invStdOut, NormParams p, int64_t rows) {
    static_assert(kPerLane % kVec == 0, "a lane holds whole runs");
    using F = NormCompute<T>;
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int64_t first = (static_cast<int64_t>(blockIdx.x) * kNormWarpsPerBlock + threadIdx.x / 32) * kNormRowsPerWarp;
    if (first >= rows) return;  // a whole warp leaves together: the reductions below see full warps only
    const int cols = static_cast<int>(p.cols);
    const F count = static_cast<F>(p.cols);
    // The first column of run j of this lane.
    auto runStart = [&](int j) { return j * 32 * kVec + lane * kVec; };
    // The rows as stored (float16 pairs pack two to a register), converted where used.
    T v[kNormRowsPerWarp][kPerLane / kVec][kVec];
#pragma unroll
    for (int r = 0; r < kNormRowsPerWarp; ++r) {
        const T* x = in + (first + r) * p.cols;
        const bool inside = first + r < rows;  // the same for the whole warp
#pragma unroll
        for (int j = 0; j < kPerLane / kVec; ++j) {
            const int c = runStart(j);
            T(&run)[kVec] = v[r][j];
            if (inside && c < cols) {
                if constexpr (kVec > 1)
                    loadPacks<T, kVec>(x + c, run);
                else
                    run[0] = x[c];
            } else {
#pragma unroll
                for (int k = 0; k < kVec; ++k) run[k] = storeNorm<T>(F(0));
            }
        }
    }
#pragma unroll
    for (int r = 0; r < kNormRowsPerWarp; ++r) {
        const int64_t row = first + r;
        if (row >= rows) break;
        T* y = out + row * p.cols;
        F sum = 0;
#pragma unroll
        for (int j = 0; j < kPerLane / kVec; ++j)
#pragma unroll
            for (int k = 0; k < kVec; ++k) sum += loadNorm(v[r][j][k]);
        F mean = 0;
        if constexpr (!kRms) mean = blockSum<32>(sum, static_cast<F*>(nullptr)) / count;
        F squares = 0;
#pragma unroll
        for (int j = 0; j < kPerLane / kVec; ++j) {
            if (runStart(j) >= cols) continue;
#pragma unroll
            for (int k = 0; k < kVec; ++k) {
                const F d = loadNorm(v[r][j][k]) - mean;
                squares += d * d;
            }
        }
        const F spread = blockSum<32>(squares, static_cast<F*>(nullptr)) / count;
        const F inverse = F(1) / sqrt(spread + static_cast<F>(p.epsilon));
#pragma unroll
        for (int j = 0; j < kPerLane / kVec; ++j) {
            const int c = runStart(j);
            if (c >= cols) continue;
            T result[kVec];
            T scales[kVec], biases[kVec];
            if constexpr (kPackedParams) {
                loadPacks<T, kVec>(scale + c, scales);
                if (bias) loadPacks<T, kVec>(bias + c, biases);
            } else {
#pragma unroll
                for (int k = 0; k < kVec; ++k) {
                    scales[k] = scale[(c + k) * p.scaleStride];
                    if (bias) biases[k] = bias[(c + k) * p.biasStride];
                }
            }
#pragma unroll
            for (int k = 0; k < kVec; ++k) {
                F value = (loadNorm(v[r][j][k]) - mean) * inverse * loadNorm(scales[k]);
                if (bias) value += loadNorm(biases[k]);
                result[k] = storeNorm<T>(value);
            }
            if constexpr (kVec > 1)
                storePacks<T, kVec>(y + c, result);
            else
                y[c] = result[0];
        }
        if (lane == 0) {
            if (meanOut) meanOut[row] = static_cast<float>(mean);
            if (invStdOut) invStdOut[row] = static_cast<float>(inverse);
        }
    }
}

template <typename T, bool kRms, int kPerLane>
void launchNormWarpRows(const T* x, const T* scale, const T* bias, T* y, float* mean, float* invStd, int64_t rows,
                        const NormParams& p, cudaStream_t stream) {
    const auto grid = static_cast<unsigned>((rows + kNormWarpRowsPerBlock - 1) / kNormWarpRowsPerBlock);
    // float16 rows (BERT's and ViT's 768) in runs of 8 (16 bytes), when the row length and the addresses
    // allow; per-column Scale and B in runs as well where they are aligned, element by element otherwise.
    constexpr int kVec = std::is_same_v<T, __half> && kPerLane % 8 == 0 ? 8 : 1;
    if constexpr (kVec > 1) {
        if (p.cols % kVec == 0 && addressesAligned(packAlignment<T>(kVec), {x, y})) {
            // A null bias counts as aligned.
            const bool packedParams = p.scaleStride == 1 && (!bias || p.biasStride == 1) &&
                                      addressesAligned(packAlignment<T>(kVec), {scale, bias});
            if (packedParams)
                normWarpRowsKernel<T, kRms, kPerLane, kVec, true>
                    <<<grid, 32 * kNormWarpsPerBlock, 0, stream>>>(x, scale, bias, y, mean, invStd, p, rows);
            else
                normWarpRowsKernel<T, kRms, kPerLane, kVec, false>
                    <<<grid, 32 * kNormWarpsPerBlock, 0, stream>>>(x, scale, bias, y, mean, invStd, p, rows);
            return;
        }
    }
    normWarpRowsKernel<T, kRms, kPerLane, 1, false>
        <<<grid, 32 * kNormWarpsPerBlock, 0, stream>>>(x, scale, bias, y, mean, invStd, p, rows);
}

template <typename T, bool kRms>
void launchNormRows(const KernelIO& io, int64_t rows, const NormParams& p, bool hasBias, cudaStream_t stream) {
    const T* x = static_cast<const T*>(io.input(0).data);
    const T* scale = static_cast<const T*>(io.input(1).data);
    const T* bias = hasBias && io.hasInput(2) ? static_cast<const T*>(io.input(2).data) : nullptr;
    T* y = static_cast<T*>(io.output(0).data);
    float* mean = io.numOutputs > 1 && io.output(1).data ? static_cast<float*>(io.output(1).data) : nullptr;
    float* invStd = io.numOutputs > 2 && io.output(2).data ? static_cast<float*>(io.output(2).data) : nullptr;
    if (p.cols <= kMaxNormWarpRow) {
        // The fewest registers per lane that hold the row.
        if (p.cols <= 32) launchNormWarpRows<T, kRms, 1>(x, scale, bias, y, mean, invStd, rows, p, stream);
        else if (p.cols <= 64) launchNormWarpRows<T, kRms, 2>(x, scale, bias, y, mean, invStd, rows, p, stream);
        else if (p.cols <= 128) launchNormWarpRows<T, kRms, 4>(x, scale, bias, y, mean, invStd, rows, p, stream);
        else if (p.cols <= 256) launchNormWarpRows<T, kRms, 8>(x, scale, bias, y, mean, invStd, rows, p, stream);
        else if (p.cols <= 512) launchNormWarpRows<T, kRms, 16>(x, scale, bias, y, mean, invStd, rows, p, stream);
        // BERT-base's and ViT-B's 768: 24 a lane, not 32 (fewer registers, more rows resident).
        else if (p.cols <= 768) launchNormWarpRows<T, kRms, 24>(x, scale, bias, y, mean, invStd, rows, p, stream);
        else launchNormWarpRows<T, kRms, 32>(x, scale, bias, y, mean, invStd, rows, p, stream);
        return;
    }
    const unsigned grid = static_cast<unsigned>(rows);
    // The narrowest block that still gives each thread work: short rows waste fewer idle threads.
    if (p.cols <= 32)
        normRowsKernel<T, kRms, 32><<<grid, 32, 0, stream>>>(x, scale, bias, y, mean, invStd, p);
    else if (p.cols <= 128)
        normRowsKernel<T, kRms, 128><<<grid, 128, 0, stream>>>(x, scale, bias, y, mean, invStd, p);
    else
        normRowsKernel<T, kRms, 256><<<grid, 256, 0, stream>>>(x, scale, bias, y, mean, invStd, p);
}

/// The per-column stride of a Scale or B of `param` shape for rows of X.shape[axis:]: 1 when it holds
/// one value per column in the row's layout, 0 for a single value; nullopt otherwise.
std::optional<int64_t> parameterStride(const Shape& param, const Shape& x, size_t axis) {
    if (shapeElementCount(param) == 1) return 0;
    auto trimmed = [](Shape s) {
        size_t lead = 0;
        while (lead < s.size() && s[lead] == 1) ++lead;
        return Shape(s.begin() + static_cast<std::ptrdiff_t>(lead), s.end());
    };
    if (trimmed(param) == trimmed(Shape(x.begin() + static_cast<std::ptrdiff_t>(axis), x.end()))) return 1;
    return std::nullopt;
}

template <bool kRms>
class NormKernel : public Kernel {
public:
    explicit NormKernel(const Node& node)
        : mType(node.input(0)->dtype),
          mAxisAttr(node.attrs.getInt("axis", -1)),
          mEpsilon(node.attrs.getFloat("epsilon", 1e-5f)),
          mHasBias(!kRms && node.hasInput(2)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        auto axis = normalizeAxis(mAxisAttr, static_cast<int64_t>(x.size()));
        if (!axis) return invalidArgument(mName + ": axis " + std::to_string(mAxisAttr) + " is out of range");
        const size_t a = static_cast<size_t>(*axis);
        mParams.cols = shapeElementCount(Shape(x.begin() + static_cast<std::ptrdiff_t>(a), x.end()));
        mParams.epsilon = mEpsilon;
        mRows = mParams.cols == 0 ? 0 : inputs[0].elementCount() / mParams.cols;
        auto scaleStride = parameterStride(inputs[1].shape, x, a);
        auto biasStride = mHasBias ? parameterStride(inputs[2].shape, x, a) : std::optional<int64_t>(0);
        if (!scaleStride || !biasStride)
            return unsupported(mName + ": Scale and B must hold one value per normalized element (" +
                               std::to_string(mParams.cols) + ", laid out like X.shape[axis:]) or a single value");
        mParams.scaleStride = *scaleStride;
        mParams.biasStride = *biasStride;
        for (size_t i = 1; i < outputs.size(); ++i)
            if (!outputs[i].shape.empty() && outputs[i].elementCount() != mRows)
                return invalidArgument(mName + ": output " + std::to_string(i) + " must hold one value per row (" +
                                       std::to_string(mRows) + ")");
        if (mRows > INT_MAX) return unsupported(mName + ": too many rows for one launch");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mRows == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mType == DataType::kHALF) launchNormRows<__half, kRms>(io, mRows, mParams, mHasBias, stream);
        else if (mType == DataType::kDOUBLE) launchNormRows<double, kRms>(io, mRows, mParams, mHasBias, stream);
        else launchNormRows<float, kRms>(io, mRows, mParams, mHasBias, stream);
        return launchStatus("normRowsKernel");
    }

    std::string tacticName() const override {
        return std::string(kRms ? "cuda.rmsnorm_" : "cuda.layernorm_") + tacticTypeSuffix(mType);
    }

private:
    DataType mType;
    int64_t mAxisAttr;
    float mEpsilon;
    bool mHasBias;
    std::string mName;
    int64_t mRows{0};
    NormParams mParams;
};

bool normSupported(const Node& node, std::string* reason) {
    const size_t parameters = node.opType == "RMSNormalization" ? 2 : 3;
    if (!inputsHaveType(node, 0, parameters, {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}, reason))
        return false;
    if (!node.input(1)) {
        if (reason) *reason = node.opType + " needs its Scale input";
        return false;
    }
    auto axis = layerNormAxis(node.attrs, static_cast<int64_t>(node.input(0)->shape.size()));
    if (!axis) {
        if (reason) *reason = axis.status().message();
        return false;
    }
    for (size_t i = 1; i < node.outputs.size(); ++i) {
        const Value* stat = node.outputs[i];
        if (stat && stat->dtype != DataType::kFLOAT) {
            if (reason)
                *reason = node.opType + "'s Mean and InvStdDev outputs have a CUDA kernel in float (stash_type 1) " +
                          "only, not " + dataTypeName(stat->dtype);
            return false;
        }
    }
    return true;
}

}  // namespace

void registerNormalizationKernels(CudaKernelRegistry& registry) {
    registry.add({"LayerNormalization", normSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<NormKernel<false>>(node));
                  }});
    registry.add({"RMSNormalization", normSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<NormKernel<true>>(node));
                  }});
}

}  // namespace kiln::cuda
