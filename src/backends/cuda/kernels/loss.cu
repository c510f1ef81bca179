// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss on float, float16 and double, with int32 or
// int64 targets, optional class weights, ignore_index and reduction none/sum/mean. Scores are
// (N, C, d1..dk), read as N x C x inner; targets are (N, d1..dk). As in the CPU kernel, the loss of
// target t at (n, d) is -weight[t] * logProb[n, t, d], logProb being the scores (NLL) or their
// log-softmax over the classes (SCE, whose optional second output is that log-softmax), all in double.
//
// One thread per (n, d) position writes its loss (reduction none) or its loss and weight to the
// workspace; then one block sums those in a fixed order (sum; mean divides by the summed weights of
// the targets not ignored, 0 / 0 = NaN when all are). A target outside [0, C) that is not
// ignore_index gives NaN (the CPU backend reports it as an error; a kernel cannot without waiting).

#include <cuda_fp16.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

enum class LossReduction : int { kNone, kSum, kMean };

__device__ __forceinline__ double widen(float v) {
    return v;
}
__device__ __forceinline__ double widen(double v) {
    return v;
}
__device__ __forceinline__ double widen(__half v) {
    return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T narrowTo(double v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half narrowTo<__half>(double v) {
    return __float2half_rn(static_cast<float>(v));  // through float, as the CPU kernel rounds
}

struct LossShape {
    int64_t batch{0}, classes{0}, inner{1};
    bool hasIgnore{false};
    int64_t ignoreIndex{0};
};

template <typename T, typename Index, bool kSoftmax>
__global__ void lossPositionsKernel(const T* scores, const Index* target, const T* weight, T* loss, T* logProb,
                                    double* values, double* weights, LossShape s) {
    const int64_t positions = s.batch * s.inner;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < positions; p += step) {
        const int64_t n = p / s.inner, d = p % s.inner;
        const T* row = scores + n * s.classes * s.inner + d;
        double logSumExp = 0;
        if constexpr (kSoftmax) {
            double maxValue = -INFINITY;
            for (int64_t c = 0; c < s.classes; ++c) maxValue = fmax(maxValue, widen(row[c * s.inner]));
            double sum = 0;
            for (int64_t c = 0; c < s.classes; ++c) sum += exp(widen(row[c * s.inner]) - maxValue);
            logSumExp = maxValue + log(sum);
            if (logProb) {
                T* out = logProb + n * s.classes * s.inner + d;
                for (int64_t c = 0; c < s.classes; ++c)
                    out[c * s.inner] = narrowTo<T>(widen(row[c * s.inner]) - logSumExp);
            }
        }
        const int64_t t = static_cast<int64_t>(target[p]);
        double value = 0, w = 0;
        if (!(s.hasIgnore && t == s.ignoreIndex)) {
            if (t < 0 || t >= s.classes) {
                value = NAN;
                w = NAN;
            } else {
                w = weight ? widen(weight[t]) : 1.0;
                value = -(widen(row[t * s.inner]) - logSumExp) * w;
            }
        }
        if (loss) loss[p] = narrowTo<T>(value);
        if (values) {
            values[p] = value;
            weights[p] = w;
        }
    }
}

constexpr int kLossSumBlock = 256;

template <typename T>
__global__ void lossTotalKernel(const double* values, const double* weights, int64_t positions, bool mean, T* loss) {
    __shared__ double scratch[kLossSumBlock / 32 + 1];
    double total = 0, weightTotal = 0;
    for (int64_t p = threadIdx.x; p < positions; p += kLossSumBlock) {
        total += values[p];
        weightTotal += weights[p];
    }
    total = blockSum<kLossSumBlock>(total, scratch);
    weightTotal = blockSum<kLossSumBlock>(weightTotal, scratch);
    if (threadIdx.x == 0) loss[0] = narrowTo<T>(mean ? total / weightTotal : total);
}

template <bool kSoftmax>
class LossKernel : public Kernel {
public:
    LossKernel(const Node& node, LossReduction reduction)
        : mType(node.input(0)->dtype),
          mIndexType(node.input(1)->dtype),
          mReduction(reduction),
          mHasWeight(node.input(2) != nullptr),
          mName(node.describe()) {
        if (auto ignore = node.attrs.getInt("ignore_index")) {
            mShape.hasIgnore = true;
            mShape.ignoreIndex = *ignore;
        }
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& scores = inputs[0].shape;
        const Shape& target = inputs[1].shape;
        if (scores.size() < 2 || target.size() + 1 != scores.size())
            return invalidArgument(mName + ": scores " + shapeToString(scores, true) + " and target " +
                                   shapeToString(target, true) + " do not pair as (N, C, d1..dk) and (N, d1..dk)");
        for (size_t i = 0; i < target.size(); ++i)
            if (target[i] != scores[i == 0 ? 0 : i + 1])
                return invalidArgument(mName + ": target " + shapeToString(target, true) + " does not match scores " +
                                       shapeToString(scores, true));
        mShape.batch = scores[0];
        mShape.classes = scores[1];
        mShape.inner = shapeElementCount(Shape(scores.begin() + 2, scores.end()));
        if (mHasWeight && inputs[2].elementCount() != mShape.classes)
            return invalidArgument(mName + ": weight has " + std::to_string(inputs[2].elementCount()) +
                                   " entries for " + std::to_string(mShape.classes) + " classes");
        const int64_t expected = mReduction == LossReduction::kNone ? mShape.batch * mShape.inner : 1;
        if (outputs[0].elementCount() != expected)
            return invalidArgument(mName + ": the loss output must hold " + std::to_string(expected) + " elements");
        return Status::ok();
    }

    /// Per position, its loss and weight (double each) for the reductions.
    size_t workspaceSize() const override {
        if (mReduction == LossReduction::kNone) return 0;
        return 2 * static_cast<size_t>(mShape.batch * mShape.inner) * sizeof(double);
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        switch (mType) {
            case DataType::kFLOAT: return launch<float>(io, stream);
            case DataType::kHALF: return launch<__half>(io, stream);
            case DataType::kDOUBLE: return launch<double>(io, stream);
            default: return unsupported(mName + ": no CUDA kernel for " + dataTypeName(mType));
        }
    }

    std::string tacticName() const override {
        return std::string(kSoftmax ? "cuda.softmax_cross_entropy_" : "cuda.nll_loss_") + tacticTypeSuffix(mType);
    }

private:
    template <typename T>
    Status launch(const KernelIO& io, cudaStream_t stream) {
        const int64_t positions = mShape.batch * mShape.inner;
        const T* scores = static_cast<const T*>(io.input(0).data);
        const T* weight = mHasWeight && io.hasInput(2) ? static_cast<const T*>(io.input(2).data) : nullptr;
        T* lossOut = static_cast<T*>(io.output(0).data);
        T* logProb = kSoftmax && io.numOutputs > 1 && io.output(1).data ? static_cast<T*>(io.output(1).data) : nullptr;
        const bool reduce = mReduction != LossReduction::kNone;
        double* values = reduce ? static_cast<double*>(io.workspace) : nullptr;
        double* weights = reduce ? values + positions : nullptr;
        if (positions > 0) {
            const unsigned grid = elementwiseGrid(positions);
            T* perPosition = reduce ? nullptr : lossOut;
            if (mIndexType == DataType::kINT32)
                lossPositionsKernel<T, int32_t, kSoftmax><<<grid, kElementwiseBlock, 0, stream>>>(
                    scores, static_cast<const int32_t*>(io.input(1).data), weight, perPosition, logProb, values,
                    weights, mShape);
            else
                lossPositionsKernel<T, int64_t, kSoftmax><<<grid, kElementwiseBlock, 0, stream>>>(
                    scores, static_cast<const int64_t*>(io.input(1).data), weight, perPosition, logProb, values,
                    weights, mShape);
            KILN_RETURN_IF_ERROR(launchStatus("lossPositionsKernel"));
        }
        if (reduce) {
            lossTotalKernel<T><<<1, kLossSumBlock, 0, stream>>>(values, weights, positions,
                                                                mReduction == LossReduction::kMean, lossOut);
            KILN_RETURN_IF_ERROR(launchStatus("lossTotalKernel"));
        }
        return Status::ok();
    }

    DataType mType;
    DataType mIndexType;
    LossReduction mReduction;
    bool mHasWeight;
    std::string mName;
    LossShape mShape;
};

std::optional<LossReduction> parseLossReduction(const std::string& text) {
    if (text == "none") return LossReduction::kNone;
    if (text == "sum") return LossReduction::kSum;
    if (text == "mean") return LossReduction::kMean;
    return std::nullopt;
}

bool lossSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}, reason)) return false;
    const Value* target = node.input(1);
    if (!target || (target->dtype != DataType::kINT32 && target->dtype != DataType::kINT64)) {
        if (reason) *reason = node.opType + "'s target must be int32 or int64";
        return false;
    }
    if (const Value* weight = node.input(2); weight && weight->dtype != node.input(0)->dtype) {
        if (reason) *reason = node.opType + "'s weight is not of the scores' type";
        return false;
    }
    const std::string text = node.attrs.getString("reduction", "mean");
    if (!parseLossReduction(text)) {
        if (reason) *reason = node.opType + " reduction '" + text + "' is not one of none, sum, mean";
        return false;
    }
    return true;
}

template <bool kSoftmax>
void registerLoss(CudaKernelRegistry& registry, const std::string& opType) {
    registry.add({opType, lossSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<LossKernel<kSoftmax>>(
                          node, *parseLossReduction(node.attrs.getString("reduction", "mean"))));
                  }});
}

}  // namespace

void registerLossKernels(CudaKernelRegistry& registry) {
    registerLoss<false>(registry, "NegativeLogLikelihoodLoss");
    registerLoss<true>(registry, "SoftmaxCrossEntropyLoss");
}

}  // namespace kiln::cuda
