// LayerNormalization (and RMSNormalization, its form without the mean), LpNormalization and
// MeanVarianceNormalization on the CPU.

#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/normalization_common.h"
#include "backends/cpu/kernels/reduction_layout.h"
#include "ir/ops/normalization_attrs.h"

namespace kiln::cpu {

namespace {

template <typename Fn>
Status dispatchNormType(DataType type, Fn&& fn) {
    return dispatchDataType(type, [&](auto tag) -> Status {
        using T = decltype(tag);
        if constexpr (kIsNormStorage<T>) {
            fn(tag);
            return Status::ok();
        } else {
            return internalError(std::string("no normalization kernel for ") + dataTypeName(type));
        }
    });
}

/// Where each of the `inner` normalized positions (X.shape[axis:]) reads a Scale or B that
/// broadcasts to X: empty when the parameter is laid out exactly like the normalized block.
Expected<std::vector<int64_t>> parameterMap(const Shape& param, const Shape& x, size_t axis) {
    if (param.size() > x.size())
        return invalidArgument("parameter " + shapeToString(param, true) + " has a higher rank than X");
    const size_t shift = x.size() - param.size();
    std::vector<int64_t> strides(x.size() - axis, 0);
    int64_t stride = 1;
    bool exact = true;
    for (size_t i = param.size(); i-- > 0;) {
        const size_t d = i + shift;
        if (param[i] != 1 && param[i] != x[d])
            return invalidArgument("parameter " + shapeToString(param, true) + " does not broadcast to X " +
                                   shapeToString(x, true));
        if (d < axis) {
            if (param[i] != 1)
                return unsupported("a LayerNormalization parameter varying along the unnormalized axes " +
                                   shapeToString(param, true) + " is not supported");
            continue;
        }
        if (param[i] != x[d] && x[d] != 1) exact = false;
        strides[d - axis] = param[i] == 1 ? 0 : stride;
        stride *= param[i];
    }
    for (size_t d = axis; d < shift; ++d)
        if (x[d] != 1) exact = false;  // axes the parameter does not cover repeat it
    if (exact) return std::vector<int64_t>{};
    int64_t inner = 1;
    for (size_t d = axis; d < x.size(); ++d) inner *= x[d];
    std::vector<int64_t> map(static_cast<size_t>(inner));
    for (int64_t j = 0; j < inner; ++j) {
        int64_t rest = j, offset = 0;
        for (size_t d = x.size(); d-- > axis;) {
            offset += (rest % x[d]) * strides[d - axis];
            rest /= x[d];
        }
        map[static_cast<size_t>(j)] = offset;
    }
    return map;
}

class LayerNormKernel : public Kernel {
public:
    /// `rootMeanSquare`: RMSNormalization, x / sqrt(mean(x^2) + epsilon) * scale (no centering, no bias).
    LayerNormKernel(DataType type, int64_t axis, double epsilon, bool hasBias, bool rootMeanSquare = false)
        : mType(type), mAxisAttr(axis), mEpsilon(epsilon), mHasBias(hasBias), mRootMeanSquare(rootMeanSquare) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        const int64_t rank = static_cast<int64_t>(x.size());
        const int64_t axis = mAxisAttr < 0 ? mAxisAttr + rank : mAxisAttr;
        if (axis < 0 || axis >= rank)
            return invalidArgument("axis " + std::to_string(mAxisAttr) + " is out of range for " + shapeToString(x, true));
        mOuter = 1;
        mInner = 1;
        for (int64_t d = 0; d < rank; ++d) (d < axis ? mOuter : mInner) *= x[static_cast<size_t>(d)];
        KILN_ASSIGN_OR_RETURN(mScaleMap, parameterMap(inputs[1].shape, x, static_cast<size_t>(axis)));
        if (mHasBias) {
            KILN_ASSIGN_OR_RETURN(mBiasMap, parameterMap(inputs[2].shape, x, static_cast<size_t>(axis)));
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const bool hasBias = mHasBias && io.hasInput(2);
        const TensorView* mean = io.numOutputs > 1 && io.output(1).data ? &io.output(1) : nullptr;
        const TensorView* invStd = io.numOutputs > 2 && io.output(2).data ? &io.output(2) : nullptr;
        return dispatchNormType(mType, [&](auto tag) {
            using T = decltype(tag);
            compute(io.input(0).as<const T>(), io.input(1).as<const T>(), hasBias ? io.input(2).as<const T>() : nullptr,
                    io.output(0).as<T>(), mean, invStd);
        });
    }

    std::string tacticName() const override {
        return std::string(mRootMeanSquare ? "cpu.rmsnorm_" : "cpu.layernorm_") + dataTypeName(mType);
    }

private:
    template <typename T>
    void compute(const T* x, const T* scale, const T* bias, T* y, const TensorView* meanOut,
                 const TensorView* invStdOut) const {
        using F = NormCompute<T>;
        const bool direct = mScaleMap.empty() && (bias == nullptr || mBiasMap.empty());
#pragma omp parallel for schedule(static) if (mOuter * mInner >= kNormParallelWork && mOuter > 1)
        for (int64_t o = 0; o < mOuter; ++o) {
            const T* src = x + o * mInner;
            T* dst = y + o * mInner;
            const Moments m = contiguousMoments(src, mInner);
            // RMS: the mean square is the variance plus the squared mean (both in double).
            const double spread = mRootMeanSquare ? m.variance + m.mean * m.mean : m.variance;
            const double invStd = 1.0 / std::sqrt(spread + mEpsilon);
            const F fMean = mRootMeanSquare ? F{0} : static_cast<F>(m.mean), fInvStd = static_cast<F>(invStd);
            if (direct) {
                for (int64_t j = 0; j < mInner; ++j) {
                    F v = (static_cast<F>(src[j]) - fMean) * fInvStd * static_cast<F>(scale[j]);
                    if (bias) v += static_cast<F>(bias[j]);
                    dst[j] = static_cast<T>(v);
                }
            } else {
                for (int64_t j = 0; j < mInner; ++j) {
                    const size_t uj = static_cast<size_t>(j);
                    F v = (static_cast<F>(src[j]) - fMean) * fInvStd *
                          static_cast<F>(scale[mScaleMap.empty() ? j : mScaleMap[uj]]);
                    if (bias) v += static_cast<F>(bias[mBiasMap.empty() ? j : mBiasMap[uj]]);
                    dst[j] = static_cast<T>(v);
                }
            }
            if (meanOut) storeElement(*meanOut, o, m.mean);
            if (invStdOut) storeElement(*invStdOut, o, invStd);
        }
    }

    DataType mType;
    int64_t mAxisAttr;
    double mEpsilon;
    bool mHasBias;
    bool mRootMeanSquare;
    int64_t mOuter{1}, mInner{1};
    std::vector<int64_t> mScaleMap, mBiasMap;
};

class LpNormKernel : public Kernel {
public:
    LpNormKernel(DataType type, int64_t axis, int64_t p) : mType(type), mAxisAttr(axis), mP(p) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        const int64_t rank = static_cast<int64_t>(x.size());
        const int64_t axis = mAxisAttr < 0 ? mAxisAttr + rank : mAxisAttr;
        if (axis < 0 || axis >= rank)
            return invalidArgument("axis " + std::to_string(mAxisAttr) + " is out of range for " + shapeToString(x, true));
        mOuter = 1;
        mInner = 1;
        for (int64_t d = 0; d < axis; ++d) mOuter *= x[static_cast<size_t>(d)];
        for (int64_t d = axis + 1; d < rank; ++d) mInner *= x[static_cast<size_t>(d)];
        mExtent = x[static_cast<size_t>(axis)];
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return dispatchNormType(mType, [&](auto tag) {
            using T = decltype(tag);
            compute(io.input(0).as<const T>(), io.output(0).as<T>());
        });
    }

    std::string tacticName() const override {
        return "cpu.lpnorm_p" + std::to_string(mP) + "_" + dataTypeName(mType);
    }

private:
    template <typename T>
    void compute(const T* x, T* y) const {
        using F = NormCompute<T>;
        const int64_t lines = mOuter * mInner;
#pragma omp parallel for schedule(static) if (lines * mExtent >= kNormParallelWork && lines > 1)
        for (int64_t line = 0; line < lines; ++line) {
            const int64_t base = (line / mInner) * mExtent * mInner + line % mInner;
            double norm = 0;
            for (int64_t i = 0; i < mExtent; ++i) {
                const double v = static_cast<double>(static_cast<F>(x[base + i * mInner]));
                norm += mP == 1 ? std::fabs(v) : v * v;
            }
            if (mP == 2) norm = std::sqrt(norm);
            // A zero norm means an all-zero line, which stays zero.
            const double inverse = norm == 0 ? 0.0 : 1.0 / norm;
            for (int64_t i = 0; i < mExtent; ++i)
                y[base + i * mInner] = static_cast<T>(static_cast<F>(static_cast<double>(static_cast<F>(x[base + i * mInner])) * inverse));
        }
    }

    DataType mType;
    int64_t mAxisAttr;
    int64_t mP;
    int64_t mOuter{1}, mInner{1}, mExtent{1};
};

/// MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes`, as ONNX's function body.
class MeanVarianceNormKernel : public Kernel {
public:
    MeanVarianceNormKernel(DataType type, std::vector<int64_t> axes) : mType(type), mAxes(std::move(axes)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        const Shape& x = inputs[0].shape;
        if (x.size() > kMaxReduceRank) return unsupported("MeanVarianceNormalization handles rank <= 16");
        ReducedAxes reduced{};
        for (int64_t axis : mAxes) {
            if (axis < 0 || axis >= static_cast<int64_t>(x.size()))
                return invalidArgument("axis " + std::to_string(axis) + " is out of range for " + shapeToString(x, true));
            reduced[static_cast<size_t>(axis)] = true;
        }
        mLayout = planReduction(x, reduced);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return dispatchNormType(mType, [&](auto tag) {
            using T = decltype(tag);
            compute(io.input(0).as<const T>(), io.output(0).as<T>());
        });
    }

    std::string tacticName() const override { return std::string("cpu.mean_variance_norm_") + dataTypeName(mType); }

private:
    template <typename T>
    void compute(const T* x, T* y) const {
        using F = NormCompute<T>;
        const ReductionLayout& l = mLayout;
        const double count = static_cast<double>(l.reduceCount);
        if (l.reduceCount == 0) return;
#pragma omp parallel for schedule(static) if (l.outputCount * l.reduceCount >= kNormParallelWork && l.outputCount > 1)
        for (int64_t o = 0; o < l.outputCount; ++o) {
            const int64_t base = l.kept.offsetOf(o);
            double sum = 0;
            forEachOffset(l.reducedDims, base, [&](int64_t i) { sum += static_cast<double>(static_cast<F>(x[i])); });
            const double mean = sum / count;
            double squares = 0;
            forEachOffset(l.reducedDims, base, [&](int64_t i) {
                const double d = static_cast<double>(static_cast<F>(x[i])) - mean;
                squares += d * d;
            });
            const double inverse = 1.0 / (std::sqrt(squares / count) + 1e-9);
            forEachOffset(l.reducedDims, base, [&](int64_t i) {
                y[i] = static_cast<T>(static_cast<F>((static_cast<double>(static_cast<F>(x[i])) - mean) * inverse));
            });
        }
    }

    DataType mType;
    std::vector<int64_t> mAxes;
    ReductionLayout mLayout;
};

bool supportsFloat(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, reason);
}

bool supportsLayerNorm(const Node& node, std::string* reason) {
    if (!supportsFloat(node, reason)) return false;
    // Scale and B must not vary along the unnormalized axes (checked again on concrete shapes).
    const int64_t rank = static_cast<int64_t>(node.input(0)->shape.size());
    auto axis = layerNormAxis(node.attrs, rank);
    if (!axis) {
        if (reason) *reason = axis.status().message();
        return false;
    }
    for (size_t i = 1; i < 3; ++i) {
        const Value* p = node.input(i);
        if (!p) continue;
        const int64_t shift = rank - static_cast<int64_t>(p->shape.size());
        for (size_t d = 0; d < p->shape.size(); ++d) {
            if (static_cast<int64_t>(d) + shift < *axis && !(p->shape[d].isKnown() && p->shape[d].value == 1)) {
                if (reason) *reason = "a Scale or B that varies along the unnormalized axes is not supported";
                return false;
            }
        }
    }
    return true;
}

bool supportsMeanVarianceNorm(const Node& node, std::string* reason) {
    if (!supportsFloat(node, reason)) return false;
    if (node.input(0)->shape.size() > kMaxReduceRank) {
        if (reason) *reason = "MeanVarianceNormalization handles rank <= 16";
        return false;
    }
    return true;
}

Expected<std::unique_ptr<Kernel>> createMeanVarianceNorm(const Node& node) {
    auto axes = mvnAxes(node.attrs, static_cast<int64_t>(node.input(0)->shape.size()));
    if (!axes) return invalidModel(node.describe() + ": " + axes.status().message());
    return std::unique_ptr<Kernel>(new MeanVarianceNormKernel(node.input(0)->dtype, std::move(*axes)));
}

}  // namespace

void registerLayerNormalizationKernels(CpuKernelRegistry& registry) {
    registry.add({"LayerNormalization", supportsLayerNorm,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(new LayerNormKernel(
                          node.input(0)->dtype, node.attrs.getInt("axis", -1),
                          static_cast<double>(node.attrs.getFloat("epsilon", 1e-5f)), node.hasInput(2)));
                  },
                  ""});
    registry.add({"RMSNormalization", supportsLayerNorm,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(new LayerNormKernel(
                          node.input(0)->dtype, node.attrs.getInt("axis", -1),
                          static_cast<double>(node.attrs.getFloat("epsilon", 1e-5f)), false, true));
                  },
                  ""});
    registry.add({"LpNormalization", supportsFloat,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(new LpNormKernel(node.input(0)->dtype, node.attrs.getInt("axis", -1),
                                                                      node.attrs.getInt("p", 2)));
                  },
                  ""});
    registry.add({"MeanVarianceNormalization", supportsMeanVarianceNorm, createMeanVarianceNorm, ""});
}

}  // namespace kiln::cpu
