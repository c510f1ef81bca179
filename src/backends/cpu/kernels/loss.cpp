// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss on the CPU. Scores are (N, C, d1..dk)
// and read as N x C x inner with inner = d1 * ... * dk; targets are (N, d1..dk). The loss of one
// target t at (n, d) is -weight[t] * logProb[n, t, d], where logProb is the input itself (NLL) or
// its log-softmax over the class axis (SCE). Accumulation is in double for every storage type.

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

enum class Reduction { kNone, kSum, kMean };

/// A storage value as double; Half and BFloat16 widen through float.
template <typename T>
double widen(T value) {
    using Wide = std::conditional_t<std::is_same_v<T, double>, double, float>;
    return static_cast<double>(static_cast<Wide>(value));
}

/// A double rounded to storage type T (through float for the types narrower than double).
template <typename T>
T narrow(double value) {
    if constexpr (std::is_same_v<T, double>)
        return value;
    else
        return static_cast<T>(static_cast<float>(value));
}

template <typename T>
constexpr bool kIsLossStorage =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

class LossKernel : public Kernel {
public:
    LossKernel(std::string nodeName, DataType type, Reduction reduction, std::optional<int64_t> ignoreIndex,
               bool hasWeight, bool softmax)
        : mNodeName(std::move(nodeName)),
          mType(type),
          mReduction(reduction),
          mIgnoreIndex(ignoreIndex),
          mHasWeight(hasWeight),
          mSoftmax(softmax) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& scores = inputs[0].shape;
        const Shape& target = inputs[1].shape;
        if (scores.size() < 2 || target.size() + 1 != scores.size())
            return invalidArgument(mNodeName + ": scores " + shapeToString(scores, true) + " and target " +
                                   shapeToString(target, true) + " do not pair as (N, C, d1..dk) and (N, d1..dk)");
        for (size_t i = 0; i < target.size(); ++i)
            if (target[i] != scores[i == 0 ? 0 : i + 1])
                return invalidArgument(mNodeName + ": target " + shapeToString(target, true) +
                                       " does not match scores " + shapeToString(scores, true));
        mBatch = scores[0];
        mClasses = scores[1];
        mInner = 1;
        for (size_t i = 2; i < scores.size(); ++i) mInner *= scores[i];
        if (mHasWeight && inputs[2].elementCount() != mClasses)
            return invalidArgument(mNodeName + ": weight has " + std::to_string(inputs[2].elementCount()) +
                                   " entries for " + std::to_string(mClasses) + " classes");
        return Status::ok();
    }

    /// SCE keeps one log-sum-exp per (n, d) position.
    size_t workspaceSize() const override {
        return mSoftmax ? static_cast<size_t>(mBatch * mInner) * sizeof(double) : 0;
    }

    Status run(const KernelIO& io) override {
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (kIsLossStorage<T>) {
                if (io.input(1).dtype == DataType::kINT32) return compute<T, int32_t>(io);
                return compute<T, int64_t>(io);
            } else {
                return internalError(mNodeName + ": no loss kernel for " + dataTypeName(mType));
            }
        });
    }

    std::string tacticName() const override {
        return std::string(mSoftmax ? "cpu.softmax_cross_entropy_" : "cpu.nll_loss_") + dataTypeName(mType);
    }

private:
    /// log-sum-exp over the classes of every (n, d) position, and log_prob when it is bound.
    template <typename T>
    void logSoftmax(const T* scores, double* logSumExp, T* logProb) const {
        const int64_t positions = mBatch * mInner;
#pragma omp parallel for schedule(static) if (positions * mClasses >= 32768 && positions > 1)
        for (int64_t p = 0; p < positions; ++p) {
            const int64_t n = p / mInner, d = p % mInner;
            const T* row = scores + n * mClasses * mInner + d;
            double maxValue = -std::numeric_limits<double>::infinity();
            for (int64_t c = 0; c < mClasses; ++c) maxValue = std::max(maxValue, widen(row[c * mInner]));
            double sum = 0;
            for (int64_t c = 0; c < mClasses; ++c) sum += std::exp(widen(row[c * mInner]) - maxValue);
            const double lse = maxValue + std::log(sum);
            logSumExp[p] = lse;
            if (logProb) {
                T* out = logProb + n * mClasses * mInner + d;
                for (int64_t c = 0; c < mClasses; ++c) out[c * mInner] = narrow<T>(widen(row[c * mInner]) - lse);
            }
        }
    }

    template <typename T, typename Index>
    Status compute(const KernelIO& io) const {
        const T* scores = io.input(0).as<const T>();
        const Index* target = io.input(1).as<const Index>();
        const T* weight = mHasWeight ? io.input(2).as<const T>() : nullptr;
        T* loss = io.output(0).as<T>();
        auto* logSumExp = static_cast<double*>(io.workspace);
        if (mSoftmax) {
            T* logProb = io.numOutputs > 1 && io.output(1).data ? io.output(1).as<T>() : nullptr;
            logSoftmax(scores, logSumExp, logProb);
        }
        const int64_t positions = mBatch * mInner;
        double total = 0, weightTotal = 0;
        for (int64_t p = 0; p < positions; ++p) {
            const int64_t t = static_cast<int64_t>(target[p]);
            double value = 0;
            if (!(mIgnoreIndex && t == *mIgnoreIndex)) {
                if (t < 0 || t >= mClasses)
                    return invalidArgument(mNodeName + ": target " + std::to_string(t) + " at position " +
                                           std::to_string(p) + " is outside the " + std::to_string(mClasses) +
                                           " classes and is not ignore_index");
                const int64_t n = p / mInner, d = p % mInner;
                const int64_t at = (n * mClasses + t) * mInner + d;
                const double logProb = mSoftmax ? widen(scores[at]) - logSumExp[p] : widen(scores[at]);
                const double w = weight ? widen(weight[t]) : 1.0;
                value = -logProb * w;
                weightTotal += w;
            }
            if (mReduction == Reduction::kNone) loss[p] = narrow<T>(value);
            total += value;
        }
        // "mean" divides by the summed weights of the targets that are not ignored; with every target
        // ignored that is 0 / 0 = NaN, as in the ONNX reference implementation.
        if (mReduction == Reduction::kSum) loss[0] = narrow<T>(total);
        if (mReduction == Reduction::kMean) loss[0] = narrow<T>(total / weightTotal);
        return Status::ok();
    }

    std::string mNodeName;
    DataType mType;
    Reduction mReduction;
    std::optional<int64_t> mIgnoreIndex;
    bool mHasWeight;
    bool mSoftmax;
    int64_t mBatch{0}, mClasses{0}, mInner{1};
};

bool supportsLoss(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}, reason) &&
           inputTypeIsOneOf(node, 1, {DataType::kINT32, DataType::kINT64}, reason);
}

Expected<std::unique_ptr<Kernel>> createLoss(const Node& node, bool softmax) {
    const std::string text = node.attrs.getString("reduction", "mean");
    Reduction reduction;
    if (text == "none") reduction = Reduction::kNone;
    else if (text == "sum") reduction = Reduction::kSum;
    else if (text == "mean") reduction = Reduction::kMean;
    else return invalidModel(node.describe() + ": attribute reduction must be none, sum or mean, got \"" + text + "\"");
    const bool hasWeight = node.input(2) != nullptr;
    return std::unique_ptr<Kernel>(new LossKernel(node.describe(), node.input(0)->dtype, reduction,
                                                  node.attrs.getInt("ignore_index"), hasWeight, softmax));
}

}  // namespace

void registerLossKernels(CpuKernelRegistry& registry) {
    registry.add({"NegativeLogLikelihoodLoss", supportsLoss,
                  [](const Node& node) { return createLoss(node, false); }, ""});
    registry.add({"SoftmaxCrossEntropyLoss", supportsLoss,
                  [](const Node& node) { return createLoss(node, true); }, ""});
}

}  // namespace kiln
