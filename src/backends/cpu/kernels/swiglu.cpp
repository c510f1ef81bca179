// CPU SwiGLU: y = a * sigmoid(alpha * a) * b over two same-shaped tensors in one pass, so the
// gate's Swish is never stored. Half / BFloat16 compute in float and round once on output.

#include "backends/cpu/kernels/elementwise_activation_math.h"
#include "backends/cpu/kernels/elementwise_kernels.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln::cpu {

namespace {

template <typename T>
void runSwiGLU(float alpha, const void* gate, const void* value, void* out, int64_t n) {
    using C = ComputeType<T>;
    const T* a = static_cast<const T*>(gate);
    const T* b = static_cast<const T*>(value);
    T* y = static_cast<T*>(out);
    const C scaled = static_cast<C>(alpha);
    parallelForRanges(n, [&](int64_t begin, int64_t end) {
        const SigmoidOp sigmoid;
        for (int64_t i = begin; i < end; ++i) {
            const C x = load(a[i]);
            y[i] = store<T>(x * sigmoid(scaled * x) * load(b[i]));
        }
    });
}

class SwiGLUKernel final : public Kernel {
public:
    SwiGLUKernel(float alpha, std::string tactic) : mAlpha(alpha), mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_RETURN_IF_ERROR(checkSameShape("swiglu", inputs[0], outputs[0]));
        KILN_RETURN_IF_ERROR(checkSameShape("swiglu", inputs[1], outputs[0]));
        if (inputs[0].dtype != inputs[1].dtype)
            return invalidArgument("cpu.swiglu: A is " + std::string(dataTypeName(inputs[0].dtype)) + " but B is " +
                                   dataTypeName(inputs[1].dtype));
        mRun = nullptr;
        FloatTypes::dispatch(inputs[0].dtype, [&](auto tag) { mRun = &runSwiGLU<decltype(tag)>; });
        if (!mRun) return unsupportedType("swiglu", inputs[0].dtype);
        mTactic = typedTacticName("swiglu", inputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mRun) return internalError("cpu.swiglu: run before reshape");
        mRun(mAlpha, io.input(0).data, io.input(1).data, io.output(0).data, io.output(0).elementCount());
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    float mAlpha;
    std::string mTactic;
    void (*mRun)(float, const void*, const void*, void*, int64_t){nullptr};
};

}  // namespace

}  // namespace kiln::cpu

namespace kiln {

void registerSwiGLUKernels(CpuKernelRegistry& registry) {
    using namespace cpu;
    // Element i of the output reads only element i of A and B: it may overwrite either.
    registry.add({"SwiGLU", &binaryInputsIn<FloatTypes>,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<SwiGLUKernel>(
                          node.attrs.getFloat("alpha", 1.0f), initialTacticName("swiglu", node, 0)));
                  },
                  "", true});
}

}  // namespace kiln
