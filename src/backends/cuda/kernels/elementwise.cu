// Broadcasting arithmetic on every numeric type: Add Sub Mul Div Mod Pow, and the variadic Max Min Sum
// Mean. The scalar rules are the CPU backend's (backends/cpu/kernels/elementwise_math.h): integer
// arithmetic wraps, integer Div truncates toward zero, x / 0 and x % 0 are 0 for integers, Max and Min
// propagate NaN. Unary math is in elementwise_unary.cu, comparisons and logic in elementwise_logic.cu.

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/binary_map.cuh"
#include "backends/cuda/kernels/broadcast_copy.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/unary_map.cuh"
#include "common/integer_rules.h"

namespace kiln::cuda {

namespace {

struct AddFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_integral_v<C>)
            return wrapAdd(a, b);
        else
            return a + b;
    }
};
struct SubFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_integral_v<C>)
            return wrapSub(a, b);
        else
            return a - b;
    }
};
struct MulFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_integral_v<C>)
            return wrapMul(a, b);
        else
            return a * b;
    }
};

/// Integer division truncates toward zero (ONNX follows C); x / 0 is 0 and MIN / -1 wraps to MIN.
struct DivFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_integral_v<C>)
            return integerDivide(a, b);
        else
            return a / b;
    }
};

/// Mod with fmod=1: the sign of A (C's % and fmod).
struct ModTruncFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_integral_v<C>)
            return integerModTrunc(a, b);
        else
            return fmodOf(a, b);
    }
};

/// Mod with fmod=0: the sign of B (Python's %); a zero result takes B's sign.
struct ModFloorFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_integral_v<C>) {
            return integerModFloor(a, b);
        } else {
            C r = fmodOf(a, b);
            if (r == C{0}) return copysignOf(C{0}, b);
            if ((r < 0) != (b < 0)) r += b;
            return r;
        }
    }
};

/// The result has the base's type (ONNX's rule): same-type floats use their own pow, mixed pairs go
/// through double, an integer base converts back like Cast.
struct PowFn {
    template <typename A, typename B>
    __device__ A operator()(A base, B exponent) const {
        if constexpr (std::is_integral_v<A> && std::is_integral_v<B>)
            return intPow(base, exponent);
        else if constexpr (std::is_integral_v<A>) {
            // CUDA's pow is within 2 ulp, not exact: pow(-3.0, 1.0) may come out as -2.9999999999999996
            // and truncate to -2. A whole, non-negative exponent is an integer power: compute it exactly.
            const double e = static_cast<double>(exponent);
            if (e >= 0.0 && e <= 9.0e18 && e == floor(e)) return intPow(base, static_cast<int64_t>(e));
            return castValue<A>(pow(static_cast<double>(base), e));
        }
        else if constexpr (std::is_same_v<A, B>)
            return powOf(base, exponent);
        else
            return static_cast<A>(pow(static_cast<double>(base), static_cast<double>(exponent)));
    }
};

struct MaxFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_floating_point_v<C>)
            return (a > b || a != a) ? a : b;
        else
            return a > b ? a : b;
    }
};
struct MinFn {
    template <typename C>
    __device__ C operator()(C a, C b) const {
        if constexpr (std::is_floating_point_v<C>)
            return (a < b || a != a) ? a : b;
        else
            return a < b ? a : b;
    }
};

/// Mean's final division by the input count, as a product (the CPU's order of rounding).
struct ScaleFn {
    double factor;
    template <typename C>
    __device__ C operator()(C x) const {
        return x * static_cast<C>(factor);
    }
};

// ------------------------------------------------------------------------------------------------ Mod

void registerMod(CudaKernelRegistry& registry) {
    registry.add({"Mod",
                  [](const Node& node, std::string* reason) {
                      const int64_t fmod = node.attrs.getInt("fmod", 0);
                      if (fmod != 0 && fmod != 1) {
                          if (reason) *reason = "Mod attribute fmod must be 0 or 1, got " + std::to_string(fmod);
                          return false;
                      }
                      return binaryInputsIn<NumericTypes>(node, reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      const std::string suffix = std::string("_") + tacticTypeSuffix(type);
                      if (node.attrs.getInt("fmod", 0) == 1)
                          return std::unique_ptr<Kernel>(
                              std::make_unique<BinaryMapKernel<ModTruncFn, NumericTypes>>("cuda.fmod" + suffix, type));
                      return std::unique_ptr<Kernel>(
                          std::make_unique<BinaryMapKernel<ModFloorFn, NumericTypes>>("cuda.mod" + suffix, type));
                  }});
}

// ------------------------------------------------------------------------------------------------ Pow

using PowBaseTypes = DeviceTypes<float, double, __half, __nv_bfloat16, int32_t, int64_t>;

class PowKernel : public Kernel {
public:
    PowKernel(DataType base, DataType exponent) : mBase(base), mExponent(exponent) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs[0].dtype != mBase || inputs[1].dtype != mExponent || outputs[0].dtype != mBase)
            return invalidArgument(tacticName() + ": the base and the output must be " + dataTypeName(mBase) +
                                   " and the exponent " + dataTypeName(mExponent));
        KILN_ASSIGN_OR_RETURN(mPlan, planBroadcast({inputs[0].shape, inputs[1].shape}, outputs[0].shape));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const Status none = unsupported(tacticName() + ": no instantiation for these types");
        return PowBaseTypes::dispatchStatus(mBase, none, [&](auto baseTag) -> Status {
            return NumericTypes::dispatchStatus(mExponent, none, [&](auto exponentTag) -> Status {
                using A = decltype(baseTag);
                using B = decltype(exponentTag);
                return launchBinaryMap<A, B, PowFn, std::is_same_v<A, B>>(PowFn{}, mPlan, io.input(0).data,
                                                                           io.input(1).data, io.output(0).data, stream);
            });
        });
    }

    std::string tacticName() const override {
        std::string name = std::string("cuda.pow_") + tacticTypeSuffix(mBase);
        if (mExponent != mBase) name += std::string("_") + tacticTypeSuffix(mExponent);
        return name;
    }

private:
    DataType mBase, mExponent;
    BroadcastPlan mPlan;
};

void registerPow(CudaKernelRegistry& registry) {
    registry.add({"Pow",
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1, PowBaseTypes::types(), reason) &&
                             inputsHaveType(node, 1, 1, NumericTypes::types(), reason) &&
                             ranksAtMost(node, kMaxBroadcastRank, reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<PowKernel>(node.input(0)->dtype, node.input(1)->dtype));
                  }});
}

// ---------------------------------------------------------------------------- variadic Max Min Sum Mean

/// Folds the inputs pairwise into the output: out = fn(in0, in1), then out = fn(out, in_k), each step
/// with its own broadcast plan; one input is a broadcast copy. Mean scales the sum at the end.
template <typename Fn, typename List>
class VariadicMapKernel : public Kernel {
public:
    VariadicMapKernel(std::string tactic, DataType type, bool mean)
        : mTactic(std::move(tactic)), mType(type), mMean(mean) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mSteps.clear();
        const TensorView& out = outputs[0];
        if (inputs.empty() || out.dtype != mType)
            return invalidArgument(mTactic + ": needs inputs and a " + dataTypeName(mType) + " output");
        for (const TensorView& in : inputs)
            if (in.dtype != mType) return invalidArgument(mTactic + ": every input must be " + dataTypeName(mType));
        if (inputs.size() == 1) {
            KILN_ASSIGN_OR_RETURN(mCopyPlan, planBroadcast({inputs[0].shape}, out.shape));
        }
        for (size_t k = 1; k < inputs.size(); ++k) {
            const Shape& first = k == 1 ? inputs[0].shape : out.shape;
            KILN_ASSIGN_OR_RETURN(BroadcastPlan plan, planBroadcast({first, inputs[k].shape}, out.shape));
            mSteps.push_back(plan);
        }
        mCount = out.elementCount();
        mInputs = inputs.size();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        if (io.numInputs != mInputs) return internalError(mTactic + ": run with another input count than reshape");
        auto stream = static_cast<cudaStream_t>(io.stream);
        void* out = io.output(0).data;
        if (mInputs == 1) return launchBroadcastCopy(mCopyPlan, dataTypeSize(mType), io.input(0).data, out, stream);
        return List::dispatchStatus(
            mType, unsupported(mTactic + ": no instantiation for " + dataTypeName(mType)), [&](auto tag) -> Status {
                using T = decltype(tag);
                for (size_t k = 0; k < mSteps.size(); ++k) {
                    const void* first = k == 0 ? io.input(0).data : out;
                    Status step = launchBinaryMap<T, T>(Fn{}, mSteps[k], first, io.input(k + 1).data, out, stream);
                    if (!step.isOk()) return step;
                }
                if (!mMean) return Status::ok();
                return launchUnaryMap<T>(ScaleFn{1.0 / static_cast<double>(mInputs)}, out, out, mCount, stream);
            });
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    DataType mType;
    bool mMean;
    std::vector<BroadcastPlan> mSteps;
    BroadcastPlan mCopyPlan;
    int64_t mCount{0};
    size_t mInputs{0};
};

template <typename Fn, typename List>
void registerVariadic(CudaKernelRegistry& registry, const std::string& opType, const std::string& name, bool mean) {
    registry.add({opType,
                  [](const Node& node, std::string* reason) {
                      if (node.inputs.empty()) {
                          if (reason) *reason = "the node has no inputs";
                          return false;
                      }
                      return inputsHaveType(node, 0, node.inputs.size(), List::types(), reason) &&
                             ranksAtMost(node, kMaxBroadcastRank, reason);
                  },
                  [name, mean](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      return std::unique_ptr<Kernel>(std::make_unique<VariadicMapKernel<Fn, List>>(
                          "cuda." + name + "_" + tacticTypeSuffix(type), type, mean));
                  }});
}

}  // namespace

void registerElementwiseKernels(CudaKernelRegistry& registry) {
    registerBinaryKernel<AddFn, NumericTypes>(registry, "Add", "add");
    registerBinaryKernel<SubFn, NumericTypes>(registry, "Sub", "sub");
    registerBinaryKernel<MulFn, NumericTypes>(registry, "Mul", "mul");
    registerBinaryKernel<DivFn, NumericTypes>(registry, "Div", "div");
    registerMod(registry);
    registerPow(registry);
    registerVariadic<MaxFn, NumericTypes>(registry, "Max", "max", false);
    registerVariadic<MinFn, NumericTypes>(registry, "Min", "min", false);
    registerVariadic<AddFn, FloatTypes>(registry, "Sum", "sum", false);
    registerVariadic<AddFn, FloatTypes>(registry, "Mean", "mean", true);
}

}  // namespace kiln::cuda
