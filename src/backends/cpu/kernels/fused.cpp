// CPU kernels of Kiln's fused layers: the base kernel (Conv / MatMul) writes the output, then one
// pass over it adds the bias and the residual and applies the activation while the data is in cache.
// A channels-last FusedConv runs this kernel between layout transposes (channels_last.h).

#include <algorithm>
#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/channels_last.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

enum class Activation { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kTanh, kHardSigmoid, kHardSwish, kGelu };

struct Epilogue {
    Activation activation{Activation::kNone};
    float alpha{0}, beta{0};

    static Expected<Epilogue> fromNode(const Node& node) {
        Epilogue e;
        std::string act = node.attrs.getString("activation", "");
        std::vector<float> params = node.attrs.getFloats("activation_params").value_or(std::vector<float>{});
        auto param = [&](size_t i, float fallback) { return i < params.size() ? params[i] : fallback; };
        if (act.empty()) e.activation = Activation::kNone;
        else if (act == "Relu") e.activation = Activation::kRelu;
        else if (act == "Clip") { e.activation = Activation::kClip; e.alpha = param(0, -INFINITY); e.beta = param(1, INFINITY); }
        else if (act == "LeakyRelu") { e.activation = Activation::kLeakyRelu; e.alpha = param(0, 0.01f); }
        else if (act == "Sigmoid") e.activation = Activation::kSigmoid;
        else if (act == "Tanh") e.activation = Activation::kTanh;
        else if (act == "HardSigmoid") { e.activation = Activation::kHardSigmoid; e.alpha = param(0, 0.2f); e.beta = param(1, 0.5f); }
        else if (act == "HardSwish") e.activation = Activation::kHardSwish;
        else if (act == "Gelu") e.activation = Activation::kGelu;
        else return unsupported(node.describe() + ": fused activation '" + act + "' is not supported");
        return e;
    }

    float apply(float x) const {
        switch (activation) {
            case Activation::kNone: return x;
            case Activation::kRelu: return x > 0.f ? x : 0.f;
            case Activation::kClip: return std::min(std::max(x, alpha), beta);
            case Activation::kLeakyRelu: return x >= 0.f ? x : alpha * x;
            case Activation::kSigmoid: return 1.f / (1.f + std::exp(-x));
            case Activation::kTanh: return std::tanh(x);
            case Activation::kHardSigmoid: return std::min(1.f, std::max(0.f, alpha * x + beta));
            case Activation::kHardSwish: return x * std::min(1.f, std::max(0.f, x / 6.f + 0.5f));
            case Activation::kGelu: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
        }
        return x;
    }
};

/// A Node like `fused` but of the base op, reading only the base op's inputs.
Node baseNode(const Node& fused, const std::string& baseOp, size_t baseInputs) {
    Node n;
    n.id = fused.id;
    n.name = fused.name;
    n.opType = baseOp;
    n.attrs = fused.attrs;
    n.attrs.erase("activation");
    n.attrs.erase("activation_params");
    for (size_t i = 0; i < std::min(baseInputs, fused.inputs.size()); ++i) n.inputs.push_back(fused.inputs[i]);
    n.outputs = fused.outputs;
    return n;
}

/// Input 3 of both fused ops: the residual Z, of the output's shape.
constexpr size_t kResidualInput = 3;

class FusedKernel : public Kernel {
public:
    /// `hasBias`: input `baseInputs` is a bias over the output's last dim (FusedMatMul's; FusedConv's bias
    /// is the base Conv's own input). `hasResidual`: the node has the residual input.
    FusedKernel(std::unique_ptr<Kernel> base, size_t baseInputs, Epilogue epilogue, bool hasBias, bool hasResidual)
        : mBase(std::move(base)),
          mBaseInputs(baseInputs),
          mEpilogue(epilogue),
          mHasBias(hasBias),
          mHasResidual(hasResidual) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        std::vector<TensorView> baseIn(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(std::min(mBaseInputs, in.size())));
        KILN_RETURN_IF_ERROR(mBase->reshape(baseIn, out));
        // The node's inputs, so the ones it has are there.
        const int64_t columns = out[0].rank() == 0 ? 1 : out[0].shape.back();
        if (mHasBias && in[mBaseInputs].elementCount() != columns)
            return invalidArgument("fused layer: the bias has " + std::to_string(in[mBaseInputs].elementCount()) +
                                   " elements, not one per output column (" + std::to_string(columns) + ")");
        if (mHasResidual && in[kResidualInput].shape != out[0].shape)
            return invalidArgument("fused layer: the residual " + shapeToString(in[kResidualInput].shape, true) +
                                   " differs from the output " + shapeToString(out[0].shape, true));
        return Status::ok();
    }
    size_t workspaceSize() const override { return mBase->workspaceSize(); }

    Status run(const KernelIO& io) override {
        KernelIO baseIO = io;
        baseIO.numInputs = std::min(mBaseInputs, io.numInputs);
        KILN_RETURN_IF_ERROR(mBase->run(baseIO));
        const TensorView& out = io.output(0);
        float* y = out.as<float>();
        int64_t n = out.elementCount();
        const float* bias = mHasBias ? io.input(mBaseInputs).as<float>() : nullptr;
        const int64_t columns = bias ? std::max<int64_t>(1, io.input(mBaseInputs).elementCount()) : 1;
        const float* residual = mHasResidual ? io.input(kResidualInput).as<float>() : nullptr;
#pragma omp parallel for schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; ++i) {
            float v = y[i];
            if (bias) v += bias[i % columns];
            if (residual) v += residual[i];
            y[i] = mEpilogue.apply(v);
        }
        return Status::ok();
    }

    std::string tacticName() const override { return mBase->tacticName() + "+epilogue"; }

private:
    std::unique_ptr<Kernel> mBase;
    size_t mBaseInputs;
    Epilogue mEpilogue;
    bool mHasBias;
    bool mHasResidual;
};

/// The fused op's base kernel must exist for these inputs; only float epilogues are implemented.
std::function<bool(const Node&, std::string*)> supportsFused(std::string baseOp, size_t baseInputs) {
    return [baseOp, baseInputs](const Node& node, std::string* reason) {
        if (!inputTypeIsOneOf(node, 0, {DataType::kFLOAT}, reason)) return false;
        auto epilogue = Epilogue::fromNode(node);
        if (!epilogue) {
            if (reason) *reason = epilogue.status().message();
            return false;
        }
        Node base = baseNode(node, baseOp, baseInputs);
        const CpuKernelEntry* entry = CpuKernelRegistry::global().find("", baseOp);
        return entry && (!entry->supports || entry->supports(base, reason));
    };
}

std::function<Expected<std::unique_ptr<Kernel>>(const Node&)> createFused(std::string baseOp, size_t baseInputs,
                                                                          bool biasAfterBase) {
    return [baseOp, baseInputs, biasAfterBase](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
        KILN_ASSIGN_OR_RETURN(Epilogue epilogue, Epilogue::fromNode(node));
        Node base = baseNode(node, baseOp, baseInputs);
        KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, CpuKernelRegistry::global().find("", baseOp)->create(base));
        return std::unique_ptr<Kernel>(new FusedKernel(std::move(kernel), baseInputs, epilogue,
                                                       biasAfterBase && node.hasInput(baseInputs),
                                                       node.hasInput(kResidualInput)));
    };
}

}  // namespace

void registerFusedKernels(CpuKernelRegistry& registry) {
    auto supportsConv = supportsFused("Conv", 3);
    auto createConv = createFused("Conv", 3, false);
    registry.add({"FusedConv",
                  [supportsConv](const Node& node, std::string* reason) {
                      return cpu::isChannelsLast(node) ? cpu::supportsChannelsLast(node, reason) : supportsConv(node, reason);
                  },
                  [createConv](const Node& node) {
                      return cpu::isChannelsLast(node) ? cpu::createChannelsLastKernel(node) : createConv(node);
                  },
                  "kiln"});
    registry.add({"FusedMatMul", supportsFused("MatMul", 2), createFused("MatMul", 2, true), "kiln"});
}

}  // namespace kiln
