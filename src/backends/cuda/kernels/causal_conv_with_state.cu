// CausalConvWithState (a depthwise causal 1-D convolution carrying its last k - 1 inputs), as the
// CPU backend computes it (backends/cpu/kernels/causal_conv_with_state.cpp): tap j of output t reads
// position t + j of the padded sequence past_state ++ input (implicit zeros without past_state), which
// is never materialized. One thread per output element, and one per present_state element; sums in
// double, SiLU optional, one rounding to the output type (float, float16, bfloat16, double).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

struct CausalConvParams {
    int64_t channels{0}, length{0}, kernel{1};
    int64_t outputs{0};  // batch * channels * length
    int64_t carried{0};  // batch * channels * (kernel - 1): present_state's elements, 0 when absent
    bool silu{false};
};

/// Position p of row `row`'s padded sequence (length kernel - 1 + length), in double.
template <typename T>
__device__ __forceinline__ double paddedAt(const T* x, const T* past, const CausalConvParams& p, int64_t row,
                                           int64_t pos) {
    const int64_t carry = p.kernel - 1;
    if (pos >= carry) return static_cast<double>(load(x[row * p.length + pos - carry]));
    return past ? static_cast<double>(load(past[row * carry + pos])) : 0.0;
}

template <typename T>
__global__ void causalConvKernel(const T* x, const T* w, const T* bias, const T* past, T* y, T* present,
                                 CausalConvParams p) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t carry = p.kernel - 1;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < p.outputs + p.carried;
         e += step) {
        if (e >= p.outputs) {  // present_state: the padded sequence's last k - 1 positions
            const int64_t i = (e - p.outputs) % carry, row = (e - p.outputs) / carry;
            present[row * carry + i] = store<T>(paddedAt(x, past, p, row, p.length + i));
            continue;
        }
        const int64_t t = e % p.length, row = e / p.length, c = row % p.channels;
        double sum = bias ? static_cast<double>(load(bias[c])) : 0.0;
        for (int64_t j = 0; j < p.kernel; ++j)
            sum += static_cast<double>(load(w[c * p.kernel + j])) * paddedAt(x, past, p, row, t + j);
        if (p.silu) sum = sum / (1.0 + exp(-sum));
        y[e] = store<T>(sum);
    }
}

using CausalConvTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;

class CausalConvWithStateKernel final : public Kernel {
public:
    CausalConvWithStateKernel(const Node& node, bool silu)
        : mName(node.describe()),
          mHasBias(node.hasInput(2)),
          mHasPast(node.hasInput(3)),
          mHasPresent(node.outputs.size() > 1 && node.outputs[1] != nullptr) {
        mParams.silu = silu;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& w = inputs[1].shape;
        if (x.size() != 3 || w.size() != 3 || w[0] != x[1] || w[1] != 1 || w[2] < 1 || outputs[0].shape != x)
            return invalidArgument(mName + ": input " + shapeToString(x, true) + " and weight " + shapeToString(w, true) +
                                   " do not fit (weight must be channels x 1 x k)");
        CausalConvParams& p = mParams;
        p.channels = x[1];
        p.length = x[2];
        p.kernel = w[2];
        const Shape state{x[0], p.channels, p.kernel - 1};
        if (mHasBias && inputs[2].shape != Shape{p.channels})
            return invalidArgument(mName + ": bias has shape " + shapeToString(inputs[2].shape, true) + " for " +
                                   std::to_string(p.channels) + " channels");
        if (mHasPast && inputs[3].shape != state)
            return invalidArgument(mName + ": past_state has shape " + shapeToString(inputs[3].shape, true) +
                                   ", expected " + shapeToString(state, true));
        if (mHasPresent && outputs[1].shape != state)
            return invalidArgument(mName + ": present_state has shape " + shapeToString(outputs[1].shape, true) +
                                   ", expected " + shapeToString(state, true));
        mType = inputs[0].dtype;
        for (size_t i = 1; i < inputs.size(); ++i)
            if ((i == 1 || (i == 2 ? mHasBias : mHasPast)) && inputs[i].dtype != mType)
                return invalidArgument(mName + ": inputs of different element types");
        for (size_t i = 0; i < outputs.size(); ++i)
            if ((i == 0 || mHasPresent) && outputs[i].dtype != mType)
                return invalidArgument(mName + ": outputs must have the input's type");
        p.outputs = shapeElementCount(x);
        p.carried = mHasPresent ? shapeElementCount(state) : 0;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const CausalConvParams& p = mParams;
        if (p.outputs + p.carried == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        return CausalConvTypes::dispatchStatus(
            mType, unsupported(mName + ": no CUDA CausalConvWithState for " + dataTypeName(mType)), [&](auto tag) {
                using T = decltype(tag);
                causalConvKernel<T><<<elementwiseGrid(p.outputs + p.carried), kElementwiseBlock, 0, stream>>>(
                    static_cast<const T*>(io.input(0).data), static_cast<const T*>(io.input(1).data),
                    mHasBias ? static_cast<const T*>(io.input(2).data) : nullptr,
                    mHasPast ? static_cast<const T*>(io.input(3).data) : nullptr, static_cast<T*>(io.output(0).data),
                    mHasPresent ? static_cast<T*>(io.output(1).data) : nullptr, p);
                return launchStatus("causalConvKernel");
            });
    }

    std::string tacticName() const override {
        return std::string("cuda.causal_conv_with_state_") + tacticTypeSuffix(mType);
    }

private:
    std::string mName;
    bool mHasBias, mHasPast, mHasPresent;
    CausalConvParams mParams;
    DataType mType{DataType::kFLOAT};
};

}  // namespace

void registerCausalConvWithStateKernels(CudaKernelRegistry& registry) {
    registry.add({"CausalConvWithState",
                  [](const Node& node, std::string* reason) {
                      if (!inputsHaveType(node, 0, 4, CausalConvTypes::types(), reason)) return false;
                      const std::string activation = node.attrs.getString("activation", "none");
                      if (activation != "none" && activation != "silu" && activation != "swish") {
                          if (reason) *reason = "activation '" + activation + "' is not one of none, silu, swish";
                          return false;
                      }
                      return true;
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      const bool silu = node.attrs.getString("activation", "none") != "none";
                      return std::unique_ptr<Kernel>(std::make_unique<CausalConvWithStateKernel>(node, silu));
                  }});
}

}  // namespace kiln::cuda
