// Pointwise activations (functors in elementwise_activation_math.h), PRelu (broadcasting slope) and
// Clip (bounds as optional inputs). Softmax and its relatives are in activation_softmax.cpp.

#include <limits>

#include "backends/cpu/kernels/elementwise_activation_math.h"
#include "backends/cpu/kernels/elementwise_kernels.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln::cpu {

namespace {

using PReluTypes = TypeList<float, double, Half, BFloat16, int32_t, int64_t, uint32_t, uint64_t>;
using ShrinkTypes =
    TypeList<float, double, Half, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;

// ---- Gelu ---------------------------------------------------------------------------------------

bool supportsGelu(const Node& node, std::string* reason) {
    if (!inputTypeIn<FloatTypes>(node, 0, reason)) return false;
    std::string approximate = node.attrs.getString("approximate", "none");
    if (approximate == "none" || approximate == "tanh") return true;
    if (reason) *reason = "Gelu attribute approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"";
    return false;
}

Expected<std::unique_ptr<Kernel>> createGelu(const Node& node) {
    std::string approximate = node.attrs.getString("approximate", "none");
    if (approximate == "tanh")
        return std::unique_ptr<Kernel>(std::make_unique<UnaryKernel<GeluTanhOp, FloatTypes>>(
            "gelu_tanh", GeluTanhOp{}, initialTacticName("gelu_tanh", node, 0)));
    if (approximate == "none")
        return std::unique_ptr<Kernel>(std::make_unique<UnaryKernel<GeluErfOp, FloatTypes>>(
            "gelu_erf", GeluErfOp{}, initialTacticName("gelu_erf", node, 0)));
    return invalidModel(node.describe() + ": attribute approximate must be \"none\" or \"tanh\"");
}

// ---- Clip ---------------------------------------------------------------------------------------

/// A bound that leaves every value (infinities included) unchanged.
template <typename C>
C noLowerBound() {
    if constexpr (std::numeric_limits<C>::has_infinity)
        return -std::numeric_limits<C>::infinity();
    else
        return std::numeric_limits<C>::lowest();
}
template <typename C>
C noUpperBound() {
    if constexpr (std::numeric_limits<C>::has_infinity)
        return std::numeric_limits<C>::infinity();
    else
        return std::numeric_limits<C>::max();
}

// The bounds are inputs, usually constants but possibly computed, so they are read at each run.
template <typename T>
void runClip(const void* in, void* out, int64_t n, const void* lo, const void* hi) {
    using C = ComputeType<T>;
    const ClipOp<C> op{lo ? load(*static_cast<const T*>(lo)) : noLowerBound<C>(),
                       hi ? load(*static_cast<const T*>(hi)) : noUpperBound<C>()};
    runUnary<ClipOp<C>, T, T>(op, in, out, n);
}

class ClipKernel final : public Kernel {
public:
    explicit ClipKernel(std::string tactic) : mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_RETURN_IF_ERROR(checkSameShape("clip", inputs[0], outputs[0]));
        mRun = nullptr;
        NumericTypes::dispatch(inputs[0].dtype, [&](auto tag) { mRun = &runClip<decltype(tag)>; });
        if (!mRun) return unsupportedType("clip", inputs[0].dtype);
        for (size_t i = 1; i < inputs.size(); ++i) {
            // An omitted bound has a null view; a present one must be one element of X's type.
            if (!inputs[i].data) continue;
            if (inputs[i].dtype != inputs[0].dtype || inputs[i].elementCount() != 1)
                return invalidArgument("cpu.clip: " + std::string(i == 1 ? "min" : "max") +
                                       " must be one element of the input's type");
        }
        mTactic = typedTacticName("clip", inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mRun) return internalError("cpu.clip: run before reshape");
        const void* lo = io.hasInput(1) ? io.input(1).data : nullptr;
        const void* hi = io.hasInput(2) ? io.input(2).data : nullptr;
        mRun(io.input(0).data, io.output(0).data, io.output(0).elementCount(), lo, hi);
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    void (*mRun)(const void*, void*, int64_t, const void*, const void*){nullptr};
};

bool supportsClip(const Node& node, std::string* reason) {
    if (!inputTypeIn<NumericTypes>(node, 0, reason)) return false;
    for (size_t i = 1; i < 3; ++i) {
        const Value* bound = node.input(i);
        if (bound && bound->dtype != node.input(0)->dtype) {
            if (reason) *reason = "Clip bounds must have the input's type";
            return false;
        }
    }
    return true;
}

}  // namespace

}  // namespace kiln::cpu

namespace kiln {

void registerActivationKernels(CpuKernelRegistry& registry) {
    using namespace cpu;
    addUnaryKernel<ReluOp, SignedNumericTypes>(registry, "Relu", "relu");
    addUnaryKernel<LeakyReluOp, FloatTypes>(registry, "LeakyRelu", "leaky_relu", [](const Node& node) {
        return Expected<LeakyReluOp>(LeakyReluOp{node.attrs.getFloat("alpha", 0.01f)});
    });
    addBinaryKernel<PReluOp, PReluTypes>(registry, "PRelu", "prelu");
    addUnaryKernel<EluOp, FloatTypes>(registry, "Elu", "elu", [](const Node& node) {
        return Expected<EluOp>(EluOp{node.attrs.getFloat("alpha", 1.0f)});
    });
    addUnaryKernel<SeluOp, FloatTypes>(registry, "Selu", "selu", [](const Node& node) {
        SeluOp op;
        op.alpha = node.attrs.getFloat("alpha", op.alpha);
        op.gamma = node.attrs.getFloat("gamma", op.gamma);
        return Expected<SeluOp>(op);
    });
    addUnaryKernel<CeluOp, FloatTypes>(registry, "Celu", "celu", [](const Node& node) -> Expected<CeluOp> {
        float alpha = node.attrs.getFloat("alpha", 1.0f);
        if (alpha == 0.0f) return invalidModel(node.describe() + ": attribute alpha must be nonzero");
        return CeluOp{alpha};
    });
    addUnaryKernel<SigmoidOp, FloatTypes>(registry, "Sigmoid", "sigmoid");
    addUnaryKernel<HardSigmoidOp, FloatTypes>(registry, "HardSigmoid", "hard_sigmoid", [](const Node& node) {
        return Expected<HardSigmoidOp>(
            HardSigmoidOp{node.attrs.getFloat("alpha", 0.2f), node.attrs.getFloat("beta", 0.5f)});
    });
    addUnaryKernel<HardSwishOp, FloatTypes>(registry, "HardSwish", "hard_swish");
    addUnaryKernel<TanhOp, FloatTypes>(registry, "Tanh", "tanh");
    addUnaryKernel<SoftplusOp, FloatTypes>(registry, "Softplus", "softplus");
    addUnaryKernel<SoftsignOp, FloatTypes>(registry, "Softsign", "softsign");
    registry.add({"Gelu", supportsGelu, createGelu, ""});
    addUnaryKernel<MishOp, FloatTypes>(registry, "Mish", "mish");
    addUnaryKernel<SwishOp, FloatTypes>(registry, "Swish", "swish", [](const Node& node) {
        return Expected<SwishOp>(SwishOp{node.attrs.getFloat("alpha", 1.0f)});
    });
    addUnaryKernel<ThresholdedReluOp, FloatTypes>(
        registry, "ThresholdedRelu", "thresholded_relu", [](const Node& node) {
            return Expected<ThresholdedReluOp>(ThresholdedReluOp{node.attrs.getFloat("alpha", 1.0f)});
        });
    addUnaryKernel<ShrinkOp, ShrinkTypes>(registry, "Shrink", "shrink", [](const Node& node) {
        return Expected<ShrinkOp>(ShrinkOp{node.attrs.getFloat("lambd", 0.5f), node.attrs.getFloat("bias", 0.0f)});
    });
    registry.add({"Clip", supportsClip,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ClipKernel>(initialTacticName("clip", node, 0)));
                  },
                  ""});
    registerSoftmaxKernels(registry);
}

}  // namespace kiln
