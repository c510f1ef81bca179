// Softmax, LogSoftmax and Hardmax along one axis (opset 13). The input is viewed as
// (outer, axis, inner). Softmax subtracts the axis maximum before exponentiating, so no exp
// overflows; sums accumulate in double; float exponentials are the vectorizable expFloat.

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/kernels/elementwise_kernels.h"

namespace kiln::cpu {

namespace {

enum class AxisOp { kSoftmax, kLogSoftmax, kHardmax };

const char* axisOpName(AxisOp op) {
    switch (op) {
        case AxisOp::kSoftmax:
            return "softmax";
        case AxisOp::kLogSoftmax:
            return "log_softmax";
        case AxisOp::kHardmax:
            return "hardmax";
    }
    return "";
}

/// Columns processed together when the axis is not innermost: the running maxima and sums of a
/// block live on the stack and each row of the block is contiguous.
constexpr int64_t kBlock = 64;

struct AxisGeometry {
    int64_t outer{1};
    int64_t axis{1};
    int64_t inner{1};
};

// Reductions below keep kLanes independent partial results, so that they vectorize without
// reassociating one chain (which GCC only does under -ffast-math).
constexpr int64_t kLanes = 8;
// Exponentials of a row are produced in chunks of this many into a stack buffer, then summed.
constexpr int64_t kChunk = 256;

template <typename T>
ComputeType<T> rowMax(const T* x, int64_t n) {
    using C = ComputeType<T>;
    C lanes[kLanes];
    for (C& lane : lanes) lane = -std::numeric_limits<C>::infinity();
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
        for (int64_t l = 0; l < kLanes; ++l) {
            const C v = load(x[j + l]);
            lanes[l] = selectValue(v > lanes[l], v, lanes[l]);
        }
    }
    for (; j < n; ++j) lanes[0] = std::max(lanes[0], load(x[j]));
    C result = lanes[0];
    for (int64_t l = 1; l < kLanes; ++l) result = std::max(result, lanes[l]);
    return result;
}

/// Sum of e^(x - maxValue) over a row, accumulated in double. The exponentials go to `keep` when
/// given (n elements), else through a stack buffer.
template <typename T>
double rowSumExp(const T* x, int64_t n, ComputeType<T> maxValue, ComputeType<T>* keep) {
    using C = ComputeType<T>;
    C buffer[kChunk];
    double lanes[kLanes] = {};
    for (int64_t begin = 0; begin < n; begin += kChunk) {
        const int64_t length = std::min(kChunk, n - begin);
        C* e = keep ? keep + begin : buffer;
        for (int64_t k = 0; k < length; ++k) e[k] = expOf(load(x[begin + k]) - maxValue);
        int64_t k = 0;
        for (; k + kLanes <= length; k += kLanes)
            for (int64_t l = 0; l < kLanes; ++l) lanes[l] += e[k + l];
        for (; k < length; ++k) lanes[0] += e[k];
    }
    double sum = 0;
    for (double lane : lanes) sum += lane;
    return sum;
}

// One contiguous row (the axis is innermost). Softmax keeps the exponentials in y when y is of the
// compute type and not x itself; otherwise (in place, Half, BFloat16) it recomputes them in the
// last pass, which only reads x before writing y.
template <typename T, AxisOp M>
void processRow(const T* x, T* y, int64_t n) {
    using C = ComputeType<T>;
    if constexpr (M == AxisOp::kHardmax) {
        C maxValue = -std::numeric_limits<C>::infinity();
        int64_t maxIndex = 0;
        for (int64_t j = 0; j < n; ++j) {
            const C v = load(x[j]);
            if (v > maxValue) {  // the first maximum wins
                maxValue = v;
                maxIndex = j;
            }
        }
        for (int64_t j = 0; j < n; ++j) y[j] = store<T>(C(j == maxIndex ? 1 : 0));
    } else {
        const C maxValue = rowMax(x, n);
        if constexpr (M == AxisOp::kSoftmax) {
            if constexpr (std::is_same_v<T, C>) {
                if (x != y) {
                    const C scale = static_cast<C>(1.0 / rowSumExp(x, n, maxValue, y));
                    for (int64_t j = 0; j < n; ++j) y[j] *= scale;
                    return;
                }
            }
            const C scale = static_cast<C>(1.0 / rowSumExp(x, n, maxValue, nullptr));
            for (int64_t j = 0; j < n; ++j) y[j] = store<T>(expOf(load(x[j]) - maxValue) * scale);
        } else {
            // (x - max) first: exact for nearby values, where x - (max + log(sum)) would lose the
            // small result to the rounding of a large shift.
            const C logSum = static_cast<C>(std::log(rowSumExp(x, n, maxValue, nullptr)));
            for (int64_t j = 0; j < n; ++j) y[j] = store<T>((load(x[j]) - maxValue) - logSum);
        }
    }
}

// Columns [0, cols) of an (axis, inner) slab, cols <= kBlock; rows are `inner` apart. The loops
// over columns are contiguous and vectorize.
template <typename T, AxisOp M>
void processColumns(const T* x, T* y, int64_t axis, int64_t inner, int64_t cols) {
    using C = ComputeType<T>;
    C maxValue[kBlock];
    for (int64_t c = 0; c < cols; ++c) maxValue[c] = -std::numeric_limits<C>::infinity();
    if constexpr (M == AxisOp::kHardmax) {
        int64_t maxIndex[kBlock] = {};
        for (int64_t j = 0; j < axis; ++j) {
            const T* row = x + j * inner;
            for (int64_t c = 0; c < cols; ++c) {
                const C v = load(row[c]);
                if (v > maxValue[c]) {  // the first maximum wins
                    maxValue[c] = v;
                    maxIndex[c] = j;
                }
            }
        }
        for (int64_t j = 0; j < axis; ++j)
            for (int64_t c = 0; c < cols; ++c) y[j * inner + c] = store<T>(C(j == maxIndex[c] ? 1 : 0));
    } else {
        for (int64_t j = 0; j < axis; ++j) {
            const T* row = x + j * inner;
            for (int64_t c = 0; c < cols; ++c) {
                const C v = load(row[c]);
                maxValue[c] = selectValue(v > maxValue[c], v, maxValue[c]);
            }
        }
        double sum[kBlock] = {};
        for (int64_t j = 0; j < axis; ++j) {
            const T* row = x + j * inner;
            for (int64_t c = 0; c < cols; ++c) sum[c] += expOf(load(row[c]) - maxValue[c]);
        }
        C factor[kBlock];
        for (int64_t c = 0; c < cols; ++c)
            factor[c] = M == AxisOp::kSoftmax ? static_cast<C>(1.0 / sum[c]) : static_cast<C>(std::log(sum[c]));
        for (int64_t j = 0; j < axis; ++j) {
            for (int64_t c = 0; c < cols; ++c) {
                const int64_t k = j * inner + c;
                if constexpr (M == AxisOp::kSoftmax)
                    y[k] = store<T>(expOf(load(x[k]) - maxValue[c]) * factor[c]);
                else
                    y[k] = store<T>((load(x[k]) - maxValue[c]) - factor[c]);
            }
        }
    }
}

template <typename T, AxisOp M>
void runAxisOp(const void* in, void* out, const AxisGeometry& g) {
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
    const bool parallel = g.outer * g.axis * g.inner >= kParallelThreshold;
    if (g.inner == 1) {
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t o = 0; o < g.outer; ++o) processRow<T, M>(x + o * g.axis, y + o * g.axis, g.axis);
        return;
    }
    const int64_t blocks = (g.inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t task = 0; task < g.outer * blocks; ++task) {
        const int64_t o = task / blocks;
        const int64_t begin = (task % blocks) * kBlock;
        const int64_t offset = o * g.axis * g.inner + begin;
        processColumns<T, M>(x + offset, y + offset, g.axis, g.inner, std::min(kBlock, g.inner - begin));
    }
}

class AxisOpKernel final : public Kernel {
public:
    AxisOpKernel(AxisOp op, int64_t axis, std::string tactic) : mOp(op), mAxis(axis), mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const std::string name = axisOpName(mOp);
        KILN_RETURN_IF_ERROR(checkSameShape(name, inputs[0], outputs[0]));
        mRun = nullptr;
        const Shape& shape = inputs[0].shape;
        auto axis = normalizeAxis(mAxis, static_cast<int64_t>(shape.size()));
        if (!axis)
            return invalidArgument("cpu." + name + ": axis " + std::to_string(mAxis) + " is out of range for rank " +
                                   std::to_string(shape.size()));
        mGeometry = AxisGeometry{};
        for (size_t d = 0; d < shape.size(); ++d) {
            const auto a = static_cast<size_t>(*axis);
            if (d < a)
                mGeometry.outer *= shape[d];
            else if (d == a)
                mGeometry.axis = shape[d];
            else
                mGeometry.inner *= shape[d];
        }
        FloatTypes::dispatch(inputs[0].dtype, [&](auto tag) {
            using T = decltype(tag);
            switch (mOp) {
                case AxisOp::kSoftmax:
                    mRun = &runAxisOp<T, AxisOp::kSoftmax>;
                    break;
                case AxisOp::kLogSoftmax:
                    mRun = &runAxisOp<T, AxisOp::kLogSoftmax>;
                    break;
                case AxisOp::kHardmax:
                    mRun = &runAxisOp<T, AxisOp::kHardmax>;
                    break;
            }
        });
        if (!mRun) return unsupportedType(name, inputs[0].dtype);
        mTactic = typedTacticName(name, inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mRun) return internalError(std::string("cpu.") + axisOpName(mOp) + ": run before reshape");
        mRun(io.input(0).data, io.output(0).data, mGeometry);
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    AxisOp mOp;
    int64_t mAxis;
    std::string mTactic;
    AxisGeometry mGeometry;
    void (*mRun)(const void*, void*, const AxisGeometry&){nullptr};
};

void addAxisOpKernel(CpuKernelRegistry& registry, const std::string& opType, AxisOp op) {
    registry.add({opType,
                  [](const Node& node, std::string* reason) { return inputTypeIn<FloatTypes>(node, 0, reason); },
                  [op](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<AxisOpKernel>(
                          op, node.attrs.getInt("axis", -1), initialTacticName(axisOpName(op), node, 0)));
                  },
                  ""});
}

}  // namespace

void registerSoftmaxKernels(CpuKernelRegistry& registry) {
    addAxisOpKernel(registry, "Softmax", AxisOp::kSoftmax);
    addAxisOpKernel(registry, "LogSoftmax", AxisOp::kLogSoftmax);
    addAxisOpKernel(registry, "Hardmax", AxisOp::kHardmax);
}

}  // namespace kiln::cpu
