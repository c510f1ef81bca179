// CPU CausalConvWithState: one task per (batch, channel) row. The padded sequence
// past_state ++ input is never materialized: tap j of output t reads position t + j of it, which
// lies in past_state (or the implicit zeros) for the first k - 1 positions and in the input after.
// Sums are taken in double and rounded once to the output type (float16 / bfloat16 included).

#include <cmath>
#include <type_traits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "common/half.h"

namespace kiln {

namespace {

template <typename T>
double at(const T* p, int64_t i) {
    return static_cast<double>(static_cast<float>(p[i]));
}
template <>
double at(const double* p, int64_t i) {
    return p[i];
}

template <typename T>
T storeAs(double v) {
    if constexpr (std::is_same_v<T, double>)
        return v;
    else
        return T(static_cast<float>(v));
}

class CausalConvWithStateKernel final : public Kernel {
public:
    /// `hasBias`, `hasPast`, `hasPresent`: whether the node has the optional inputs and output.
    CausalConvWithStateKernel(bool silu, bool hasBias, bool hasPast, bool hasPresent)
        : mSilu(silu), mHasBias(hasBias), mHasPast(hasPast), mHasPresent(hasPresent) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& w = inputs[1].shape;
        if (x.size() != 3 || w.size() != 3 || w[0] != x[1] || w[1] != 1 || w[2] < 1 || outputs[0].shape != x)
            return invalidArgument("cpu.causal_conv_with_state: input " + shapeToString(x, true) + " and weight " +
                                   shapeToString(w, true) + " do not fit (weight must be channels x 1 x k)");
        mBatch = x[0];
        mChannels = x[1];
        mLength = x[2];
        mKernel = w[2];
        const Shape state{mBatch, mChannels, mKernel - 1};
        if (mHasBias && inputs[2].shape != Shape{mChannels})
            return invalidArgument("cpu.causal_conv_with_state: bias has shape " + shapeToString(inputs[2].shape, true) +
                                   " for " + std::to_string(mChannels) + " channels");
        if (mHasPast && inputs[3].shape != state)
            return invalidArgument("cpu.causal_conv_with_state: past_state has shape " + shapeToString(inputs[3].shape, true) +
                                   ", expected " + shapeToString(state, true));
        if (mHasPresent && outputs[1].shape != state)
            return invalidArgument("cpu.causal_conv_with_state: present_state has shape " +
                                   shapeToString(outputs[1].shape, true) + ", expected " + shapeToString(state, true));
        for (size_t i = 1; i < inputs.size(); ++i)
            if ((i == 1 || (i == 2 ? mHasBias : mHasPast)) && inputs[i].dtype != inputs[0].dtype)
                return invalidArgument("cpu.causal_conv_with_state: inputs of different element types");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        switch (io.input(0).dtype) {
            case DataType::kFLOAT: return runTyped<float>(io);
            case DataType::kHALF: return runTyped<Half>(io);
            case DataType::kBF16: return runTyped<BFloat16>(io);
            case DataType::kDOUBLE: return runTyped<double>(io);
            default:
                return unsupported(std::string("cpu.causal_conv_with_state: no kernel for ") + dataTypeName(io.input(0).dtype));
        }
    }

    std::string tacticName() const override { return "cpu.causal_conv_with_state"; }

private:
    template <typename T>
    Status runTyped(const KernelIO& io) {
        const T* x = io.input(0).as<const T>();
        const T* w = io.input(1).as<const T>();
        const T* bias = mHasBias ? io.input(2).as<const T>() : nullptr;
        const T* past = mHasPast ? io.input(3).as<const T>() : nullptr;
        T* y = io.output(0).as<T>();
        T* present = mHasPresent ? io.output(1).as<T>() : nullptr;
        const int64_t carry = mKernel - 1, rows = mBatch * mChannels;
#pragma omp parallel for schedule(static) if (rows * mLength * mKernel >= 65536)
        for (int64_t row = 0; row < rows; ++row) {
            const int64_t c = row % mChannels;
            const T* in = x + row * mLength;
            const T* state = past ? past + row * carry : nullptr;
            // Position p of the padded sequence (length carry + mLength).
            auto padded = [&](int64_t p) -> double {
                if (p >= carry) return at(in, p - carry);
                return state ? at(state, p) : 0.0;
            };
            for (int64_t t = 0; t < mLength; ++t) {
                double sum = bias ? at(bias, c) : 0.0;
                for (int64_t j = 0; j < mKernel; ++j) sum += at(w, c * mKernel + j) * padded(t + j);
                if (mSilu) sum = sum / (1.0 + std::exp(-sum));
                y[row * mLength + t] = storeAs<T>(sum);
            }
            if (present)
                for (int64_t i = 0; i < carry; ++i) present[row * carry + i] = storeAs<T>(padded(mLength + i));
        }
        return Status::ok();
    }

    bool mSilu, mHasBias, mHasPast, mHasPresent;
    int64_t mBatch{0}, mChannels{0}, mLength{0}, mKernel{1};
};

}  // namespace

void registerCausalConvWithStateKernels(CpuKernelRegistry& registry) {
    registry.add({"CausalConvWithState",
                  [](const Node& node, std::string* reason) {
                      return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE},
                                              reason);
                  },
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      const std::string activation = node.attrs.getString("activation", "none");
                      if (activation != "none" && activation != "silu" && activation != "swish")
                          return invalidModel(node.describe() + ": activation '" + activation +
                                              "' is not one of none, silu, swish");
                      const bool hasPresent = node.outputs.size() > 1 && node.outputs[1] != nullptr;
                      return std::unique_ptr<Kernel>(std::make_unique<CausalConvWithStateKernel>(
                          activation != "none", node.input(2) != nullptr, node.input(3) != nullptr, hasPresent));
                  },
                  ""});
}

}  // namespace kiln
