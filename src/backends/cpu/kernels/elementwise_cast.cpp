// Cast and CastLike: every Kiln element type to every other, through castValue (elementwise_math.h).

#include <cstring>

#include "backends/cpu/kernels/elementwise_kernels.h"
#include "ir/onnx_types.h"

namespace kiln::cpu {

namespace {

template <typename From, typename To>
void runCast(const void* in, void* out, int64_t n) {
    runUnary<CastOp<To>, From, To>(CastOp<To>{}, in, out, n);
}

/// Converts input 0 to the output view's type, whatever produced that type (`to` for Cast,
/// input 1 for CastLike: inference has set the output type from it).
class CastKernel final : public Kernel {
public:
    explicit CastKernel(std::string tactic) : mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_RETURN_IF_ERROR(checkSameShape("cast", inputs[0], outputs[0]));
        mRun = nullptr;
        mSameType = inputs[0].dtype == outputs[0].dtype;
        AllTypes::dispatch(inputs[0].dtype, [&](auto fromTag) {
            AllTypes::dispatch(outputs[0].dtype, [&](auto toTag) {
                using From = decltype(fromTag);
                using To = decltype(toTag);
                mRun = &runCast<From, To>;
            });
        });
        if (!mRun)
            return unsupported(std::string("cpu.cast: no kernel from ") + dataTypeName(inputs[0].dtype) + " to " +
                               dataTypeName(outputs[0].dtype));
        mTactic = std::string("cpu.cast_") + shortTypeName(inputs[0].dtype) + "_to_" + shortTypeName(outputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mRun) return internalError("cpu.cast: run before reshape");
        if (mSameType) {
            if (io.output(0).data != io.input(0).data)
                std::memcpy(io.output(0).data, io.input(0).data, io.output(0).byteSize());
            return Status::ok();
        }
        mRun(io.input(0).data, io.output(0).data, io.output(0).elementCount());
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    using RunFn = void (*)(const void*, void*, int64_t);
    std::string mTactic;
    bool mSameType{false};
    RunFn mRun{nullptr};
};

}  // namespace

void registerElementwiseCastKernels(CpuKernelRegistry& registry) {
    registry.add({"Cast",
                  [](const Node& node, std::string* reason) {
                      if (!inputTypeIn<AllTypes>(node, 0, reason)) return false;
                      auto to = node.attrs.getInt("to");
                      if (to && dataTypeFromOnnx(*to)) return true;
                      if (reason)
                          *reason = "Cast to ONNX element type " + (to ? std::to_string(*to) : "<none>") +
                                    " is not supported";
                      return false;
                  },
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CastKernel>("cpu.cast"));
                  },
                  ""});
    registry.add({"CastLike",
                  [](const Node& node, std::string* reason) {
                      return inputTypeIn<AllTypes>(node, 0, reason) && inputTypeIn<AllTypes>(node, 1, reason);
                  },
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<CastKernel>("cpu.cast"));
                  },
                  ""});
}

}  // namespace kiln::cpu
