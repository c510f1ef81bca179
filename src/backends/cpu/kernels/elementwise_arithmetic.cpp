// Broadcasting arithmetic: Add Sub Mul Div Mod Pow, and the variadic Max Min Sum Mean.

#include <vector>

#include "backends/cpu/kernels/elementwise_kernels.h"

namespace kiln::cpu {

namespace {

// ---- Mod ----------------------------------------------------------------------------------------

bool supportsMod(const Node& node, std::string* reason) {
    if (!binaryInputsIn<NumericTypes>(node, reason)) return false;
    int64_t fmod = node.attrs.getInt("fmod", 0);
    if (fmod == 0 || fmod == 1) return true;
    if (reason) *reason = "Mod attribute fmod must be 0 or 1, got " + std::to_string(fmod);
    return false;
}

Expected<std::unique_ptr<Kernel>> createMod(const Node& node) {
    int64_t fmod = node.attrs.getInt("fmod", 0);
    if (fmod != 0 && fmod != 1) return invalidModel(node.describe() + ": attribute fmod must be 0 or 1");
    BinarySelectFn select =
        fmod == 1 ? &selectSameTypeBinary<ModTruncOp, NumericTypes> : &selectSameTypeBinary<ModFloorOp, NumericTypes>;
    std::string name = fmod == 1 ? "fmod" : "mod";
    return std::unique_ptr<Kernel>(std::make_unique<BinaryKernel>(name, select, initialTacticName(name, node, 0)));
}

// ---- Pow ----------------------------------------------------------------------------------------

using PowBaseTypes = TypeList<float, double, Half, BFloat16, int32_t, int64_t>;

// Pow is dominated by std::pow, so one loop with run-time inner strides serves every broadcast
// pattern (instead of four per base/exponent type pair).
template <typename TA, typename TB>
void runPow(const BroadcastPlan& plan, const void* a, const void* b, void* out) {
    const TA* pa = static_cast<const TA*>(a);
    const TB* pb = static_cast<const TB*>(b);
    TA* po = static_cast<TA*>(out);
    const int64_t sa = plan.innerStride(0);
    const int64_t sb = plan.innerStride(1);
    parallelForEachSpan(plan, [=](int64_t o, const int64_t* in, int64_t n) {
        const TA* x = pa + in[0];
        const TB* y = pb + in[1];
        TA* z = po + o;
        for (int64_t i = 0; i < n; ++i) z[i] = store<TA>(PowOp{}(load(x[sa * i]), load(y[sb * i])));
    });
}

BinaryRunFn selectPow(DataType a, DataType b, const BroadcastPlan&) {
    BinaryRunFn fn = nullptr;
    PowBaseTypes::dispatch(a, [&](auto baseTag) {
        NumericTypes::dispatch(b, [&](auto exponentTag) { fn = &runPow<decltype(baseTag), decltype(exponentTag)>; });
    });
    return fn;
}

double scalarAsDouble(const TensorView& view) {
    double value = 0;
    NumericTypes::dispatch(view.dtype, [&](auto tag) {
        using T = decltype(tag);
        value = static_cast<double>(load(*static_cast<const T*>(view.data)));
    });
    return value;
}

/// Pow with a fast path for the most common exponent, a scalar 2 (variance in decomposed
/// LayerNorm): x * x instead of std::pow. The exponent is data, so the check happens in run().
class PowKernel final : public Kernel {
public:
    explicit PowKernel(std::string tactic) : mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mRun = nullptr;
        mSquare = nullptr;
        auto plan = makeBroadcastPlan({&inputs[0].shape, &inputs[1].shape}, outputs[0].shape);
        if (!plan) return plan.status().withContext("cpu.pow");
        mPlan = *plan;
        mRun = selectPow(inputs[0].dtype, inputs[1].dtype, mPlan);
        if (!mRun)
            return unsupported(std::string("cpu.pow: no kernel for base ") + dataTypeName(inputs[0].dtype) +
                               " and exponent " + dataTypeName(inputs[1].dtype));
        if (inputs[1].elementCount() == 1 && inputs[0].shape == outputs[0].shape) {
            FloatTypes::dispatch(inputs[0].dtype, [&](auto tag) {
                using T = decltype(tag);
                mSquare = &runUnary<SquareOp, T, T>;
            });
        }
        mTactic = typedTacticName("pow", inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mRun) return internalError("cpu.pow: run before reshape");
        if (mSquare && scalarAsDouble(io.input(1)) == 2.0) {
            mSquare(SquareOp{}, io.input(0).data, io.output(0).data, io.output(0).elementCount());
            return Status::ok();
        }
        mRun(mPlan, io.input(0).data, io.input(1).data, io.output(0).data);
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    BroadcastPlan mPlan;
    BinaryRunFn mRun{nullptr};
    void (*mSquare)(const SquareOp&, const void*, void*, int64_t){nullptr};
};

bool supportsPow(const Node& node, std::string* reason) {
    return inputTypeIn<PowBaseTypes>(node, 0, reason) && inputTypeIn<NumericTypes>(node, 1, reason);
}

// ---- variadic: Max Min Sum Mean -----------------------------------------------------------------

/// Folds the inputs pairwise into the output: out = op(in0, in1), then out = op(out, in_k); each
/// step has its own broadcast plan. Mean scales the sum at the end.
class VariadicKernel final : public Kernel {
public:
    VariadicKernel(std::string name, BinarySelectFn select, bool mean, std::string tactic)
        : mName(std::move(name)), mSelect(select), mMean(mean), mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mSteps.clear();
        mCopy = nullptr;
        mScale = nullptr;
        const TensorView& out = outputs[0];
        for (const TensorView& in : inputs)
            if (in.dtype != inputs[0].dtype) return invalidArgument("cpu." + mName + ": inputs differ in type");
        if (inputs.size() == 1) {
            auto plan = makeBroadcastPlan({&inputs[0].shape}, out.shape);
            if (!plan) return plan.status().withContext("cpu." + mName);
            mCopyPlan = *plan;
            mCopy = selectBroadcastCopy(dataTypeSize(out.dtype), mCopyPlan);
        }
        for (size_t k = 1; k < inputs.size(); ++k) {
            const Shape& first = k == 1 ? inputs[0].shape : out.shape;
            auto plan = makeBroadcastPlan({&first, &inputs[k].shape}, out.shape);
            if (!plan) return plan.status().withContext("cpu." + mName);
            BinaryRunFn fn = mSelect(inputs[0].dtype, inputs[k].dtype, *plan);
            if (!fn) return unsupportedType(mName, inputs[0].dtype);
            mSteps.push_back({*plan, fn});
        }
        if (mMean && inputs.size() > 1) {
            FloatTypes::dispatch(out.dtype, [&](auto tag) {
                using T = decltype(tag);
                mScale = &runUnary<ScaleOp, T, T>;
            });
            if (!mScale) return unsupportedType(mName, out.dtype);
            mScaleOp.factor = 1.0 / static_cast<double>(inputs.size());
        }
        mTactic = typedTacticName(mName, inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        void* out = io.output(0).data;
        if (io.numInputs == 1) {
            if (!mCopy) return internalError("cpu." + mName + ": run before reshape");
            mCopy(mCopyPlan, io.input(0).data, out);
            return Status::ok();
        }
        if (mSteps.size() + 1 != io.numInputs) return internalError("cpu." + mName + ": run before reshape");
        for (size_t k = 0; k < mSteps.size(); ++k) {
            const void* first = k == 0 ? io.input(0).data : out;
            mSteps[k].run(mSteps[k].plan, first, io.input(k + 1).data, out);
        }
        if (mScale) mScale(mScaleOp, out, out, io.output(0).elementCount());
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    struct Step {
        BroadcastPlan plan;
        BinaryRunFn run;
    };
    std::string mName;
    BinarySelectFn mSelect;
    bool mMean;
    std::string mTactic;
    std::vector<Step> mSteps;
    BroadcastPlan mCopyPlan;
    BroadcastCopyFn mCopy{nullptr};
    ScaleOp mScaleOp;
    void (*mScale)(const ScaleOp&, const void*, void*, int64_t){nullptr};
};

template <typename List>
bool variadicInputsIn(const Node& node, std::string* reason) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
        if (!inputTypeIn<List>(node, i, reason)) return false;
        if (node.input(i)->dtype != node.input(0)->dtype) {
            if (reason) *reason = "inputs of " + node.opType + " have different types";
            return false;
        }
    }
    if (!node.inputs.empty()) return true;
    if (reason) *reason = node.opType + " has no inputs";
    return false;
}

template <typename Op, typename List>
void addVariadicKernel(CpuKernelRegistry& registry, const std::string& opType, const std::string& name, bool mean) {
    registry.add({opType, &variadicInputsIn<List>,
                  [name, mean](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<VariadicKernel>(
                          name, &selectSameTypeBinary<Op, List>, mean, initialTacticName(name, node, 0)));
                  },
                  ""});
}

}  // namespace

void registerElementwiseArithmeticKernels(CpuKernelRegistry& registry) {
    addBinaryKernel<AddOp, NumericTypes>(registry, "Add", "add");
    addBinaryKernel<SubOp, NumericTypes>(registry, "Sub", "sub");
    addBinaryKernel<MulOp, NumericTypes>(registry, "Mul", "mul");
    addBinaryKernel<DivOp, NumericTypes>(registry, "Div", "div");
    registry.add({"Mod", supportsMod, createMod, ""});
    registry.add({"Pow", supportsPow,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<PowKernel>(initialTacticName("pow", node, 0)));
                  },
                  ""});
    addVariadicKernel<MaxOp, NumericTypes>(registry, "Max", "max", false);
    addVariadicKernel<MinOp, NumericTypes>(registry, "Min", "min", false);
    addVariadicKernel<AddOp, FloatTypes>(registry, "Sum", "sum", false);
    addVariadicKernel<AddOp, FloatTypes>(registry, "Mean", "mean", true);
}

}  // namespace kiln::cpu
