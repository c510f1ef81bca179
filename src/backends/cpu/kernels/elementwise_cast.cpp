// Cast and CastLike: every Kiln element type to every other. Between the types Kiln computes in
// through castValue (elementwise_math.h); to and from the low-bit types (float8, float4, int4,
// int2, ...) through common/low_precision.h, with Cast's `saturate` and `round_mode`.

#include <array>
#include <cstring>

#include "backends/cpu/kernels/elementwise_kernels.h"
#include "common/low_precision.h"
#include "ir/onnx_types.h"

namespace kiln::cpu {

namespace {

template <typename From, typename To>
void runCast(const void* in, void* out, int64_t n) {
    runUnary<CastOp<To>, From, To>(CastOp<To>{}, in, out, n);
}

/// What a cast that involves a low-bit type needs at run time.
struct LowBitCast {
    DataType from{DataType::kFLOAT};
    DataType to{DataType::kFLOAT};
    LowBitCastMode mode;
    std::array<double, 256> decoded{};  // the value of each stored byte of `from`, when it is low-bit
};

/// A computing type to a low-bit type. Integers (and bool) keep their integer value on the way,
/// so that a low-bit integer target takes their low bits exactly, as an integer cast does.
template <typename From>
void castToLowBit(const LowBitCast& c, const void* in, void* out, int64_t n) {
    const From* x = static_cast<const From*>(in);
    uint8_t* y = static_cast<uint8_t*>(out);
    const bool integerTarget = isLowBitIntegerType(c.to);
    parallelForRanges(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            if constexpr (std::is_integral_v<From>) {
                y[i] = integerTarget ? lowBitFromInteger(c.to, static_cast<int64_t>(x[i]), c.mode)
                                     : lowBitFromDouble(c.to, static_cast<double>(x[i]), c.mode);
            } else {
                y[i] = lowBitFromDouble(c.to, static_cast<double>(load(x[i])), c.mode);
            }
        }
    });
}

/// A low-bit type to a computing type: the exact value, then castValue's rules. The 2- and 4-bit
/// integers pass as integers, so that a narrower target keeps their low bits (int4 -8 -> uint8 248).
template <typename To>
void castFromLowBit(const LowBitCast& c, const void* in, void* out, int64_t n) {
    const uint8_t* x = static_cast<const uint8_t*>(in);
    To* y = static_cast<To*>(out);
    const bool integerSource = isLowBitIntegerType(c.from);
    parallelForRanges(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
            y[i] =
                integerSource ? castValue<To>(static_cast<int64_t>(c.decoded[x[i]])) : castValue<To>(c.decoded[x[i]]);
    });
}

/// A low-bit type to another; every low-bit value is exact in double.
void castLowBitToLowBit(const LowBitCast& c, const void* in, void* out, int64_t n) {
    const uint8_t* x = static_cast<const uint8_t*>(in);
    uint8_t* y = static_cast<uint8_t*>(out);
    parallelForRanges(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) y[i] = lowBitFromDouble(c.to, c.decoded[x[i]], c.mode);
    });
}

/// Cast's `round_mode` attribute; inference has checked its spelling.
E8M0Rounding e8m0RoundingOf(const Node& node) {
    const std::string mode = node.attrs.getString("round_mode", "up");
    if (mode == "down") return E8M0Rounding::kDown;
    if (mode == "nearest") return E8M0Rounding::kNearest;
    return E8M0Rounding::kUp;
}

/// Converts input 0 to the output view's type, whatever produced that type (`to` for Cast,
/// input 1 for CastLike: inference has set the output type from it).
class CastKernel final : public Kernel {
public:
    CastKernel(std::string tactic, LowBitCastMode mode) : mTactic(std::move(tactic)) { mLowBit.mode = mode; }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_RETURN_IF_ERROR(checkSameShape("cast", inputs[0], outputs[0]));
        mRun = nullptr;
        mRunLowBit = nullptr;
        mSameType = inputs[0].dtype == outputs[0].dtype;
        mTactic = std::string("cpu.cast_") + shortTypeName(inputs[0].dtype) + "_to_" + shortTypeName(outputs[0].dtype);
        if (isLowBitType(inputs[0].dtype) || isLowBitType(outputs[0].dtype))
            return planLowBit(inputs[0].dtype, outputs[0].dtype);
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
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (!mRun && !mRunLowBit) return internalError("cpu.cast: run before reshape");
        if (mSameType) {
            if (io.output(0).data != io.input(0).data)
                std::memcpy(io.output(0).data, io.input(0).data, io.output(0).byteSize());
            return Status::ok();
        }
        if (mRunLowBit)
            mRunLowBit(mLowBit, io.input(0).data, io.output(0).data, io.output(0).elementCount());
        else
            mRun(io.input(0).data, io.output(0).data, io.output(0).elementCount());
        return Status::ok();
    }

    std::string tacticName() const override { return mTactic; }

private:
    using RunFn = void (*)(const void*, void*, int64_t);
    using LowBitRunFn = void (*)(const LowBitCast&, const void*, void*, int64_t);

    Status planLowBit(DataType from, DataType to) {
        mLowBit.from = from;
        mLowBit.to = to;
        if (isLowBitType(from))
            for (size_t code = 0; code < mLowBit.decoded.size(); ++code)
                mLowBit.decoded[code] = lowBitToDouble(from, static_cast<uint8_t>(code));
        if (isLowBitType(from) && isLowBitType(to)) {
            mRunLowBit = &castLowBitToLowBit;
        } else if (isLowBitType(from)) {
            AllTypes::dispatch(to, [&](auto tag) { mRunLowBit = &castFromLowBit<decltype(tag)>; });
        } else {
            AllTypes::dispatch(from, [&](auto tag) { mRunLowBit = &castToLowBit<decltype(tag)>; });
        }
        if (!mRunLowBit)
            return unsupported(std::string("cpu.cast: no kernel from ") + dataTypeName(from) + " to " +
                               dataTypeName(to));
        return Status::ok();
    }

    std::string mTactic;
    bool mSameType{false};
    RunFn mRun{nullptr};
    LowBitRunFn mRunLowBit{nullptr};
    LowBitCast mLowBit;
};

Expected<std::unique_ptr<Kernel>> createCastKernel(const Node& node) {
    LowBitCastMode mode;
    mode.saturate = node.attrs.getInt("saturate", 1) != 0;
    mode.e8m0Rounding = e8m0RoundingOf(node);
    return std::unique_ptr<Kernel>(std::make_unique<CastKernel>("cpu.cast", mode));
}

/// supports() of Cast and CastLike: input `index` has a type Kiln can cast from or to.
bool castableInput(const Node& node, size_t index, std::string* reason) {
    const Value* v = node.input(index);
    if (v && isLowBitType(v->dtype)) return true;
    return inputTypeIn<AllTypes>(node, index, reason);
}

}  // namespace

void registerElementwiseCastKernels(CpuKernelRegistry& registry) {
    // Both convert to and from the low-bit types themselves (lowBitTypes).
    registry.add({"Cast",
                  [](const Node& node, std::string* reason) {
                      if (!castableInput(node, 0, reason)) return false;
                      auto to = node.attrs.getInt("to");
                      if (to && dataTypeFromOnnx(*to)) return true;
                      if (reason)
                          *reason = "Cast to ONNX element type " + (to ? std::to_string(*to) : "<none>") +
                                    " is not supported";
                      return false;
                  },
                  createCastKernel, "", false, true});
    registry.add({"CastLike",
                  [](const Node& node, std::string* reason) {
                      return castableInput(node, 0, reason) && castableInput(node, 1, reason);
                  },
                  createCastKernel, "", false, true});
}

}  // namespace kiln::cpu
