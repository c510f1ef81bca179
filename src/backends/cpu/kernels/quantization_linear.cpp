// CPU kernels of the linear quantizers: QuantizeLinear y = saturate(round(x / scale) + zero_point),
// DequantizeLinear y = (x - zero_point) * scale, each with a per-tensor, per-axis or blocked scale,
// and DynamicQuantizeLinear (uint8, scale and zero point from the input's range). The arithmetic
// follows ONNX's reference: float32 for float, float16 and bfloat16 data, round half to even.
// The low-bit types (float8, float4, int4, int2, ...) go through common/low_precision.h: as the
// quantized side, as float8e8m0 scales and as zero points.

#include <array>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/quantization_parts.h"

namespace kiln {

namespace {

using quantkernels::elementAt;
using quantkernels::saturateRound;

/// Which scale entry each element of X uses: X viewed as outer x extent x inner around `axis`.
class ScaleIndexer {
public:
    Status reshape(const Shape& x, const Shape& scale, int64_t axisAttr, int64_t blockSize) {
        const int64_t scaleCount = shapeElementCount(scale);
        mMode = Mode::kTensor;
        if (scale.empty() || (scale.size() == 1 && scaleCount == 1 && blockSize == 0)) return Status::ok();
        auto axis = normalizeAxis(axisAttr, static_cast<int64_t>(x.size()));
        if (!axis) return invalidArgument("axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(x.size()));
        const size_t a = static_cast<size_t>(*axis);
        mExtent = x[a];
        mInner = 1;
        for (size_t d = a + 1; d < x.size(); ++d) mInner *= x[d];
        if (blockSize <= 0) {
            if (scaleCount != mExtent)
                return invalidArgument("the scale has " + std::to_string(scaleCount) + " entries for axis " + std::to_string(a) +
                                       " of extent " + std::to_string(mExtent));
            mMode = Mode::kAxis;
            return Status::ok();
        }
        mBlockSize = blockSize;
        mBlocks = (mExtent + blockSize - 1) / blockSize;
        if (scale.size() != x.size() || scale[a] != mBlocks)
            return invalidArgument("the blocked scale " + shapeToString(scale, true) + " does not fit blocks of " +
                                   std::to_string(blockSize) + " of " + shapeToString(x, true));
        mMode = Mode::kBlocked;
        return Status::ok();
    }
    int64_t operator()(int64_t i) const {
        switch (mMode) {
            case Mode::kTensor: return 0;
            case Mode::kAxis: return (i / mInner) % mExtent;
            case Mode::kBlocked: {
                int64_t inner = i % mInner;
                int64_t along = (i / mInner) % mExtent;
                int64_t outer = i / (mInner * mExtent);
                return (outer * mBlocks + along / mBlockSize) * mInner + inner;
            }
        }
        return 0;
    }

private:
    enum class Mode { kTensor, kAxis, kBlocked };
    Mode mMode{Mode::kTensor};
    int64_t mExtent{1}, mInner{1}, mBlockSize{0}, mBlocks{1};
};

/// What QuantizeLinear and DequantizeLinear share: the axis / block layout of the scales, and the
/// scale and zero-point values read as double at each run (kept in the kernel, so a run reuses
/// their storage instead of allocating it).
class LinearQuantizationKernel : public Kernel {
public:
    LinearQuantizationKernel(int64_t axis, int64_t blockSize) : mAxis(axis), mBlockSize(blockSize) {}
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        return mIndex.reshape(inputs[0].shape, inputs[1].shape, mAxis, mBlockSize);
    }

protected:
    /// Reads input 1 (scales) and input 2 (zero points, 0 when absent) into mScales / mZeros.
    void readScales(const KernelIO& io) {
        const TensorView& scale = io.input(1);
        mScales.resize(static_cast<size_t>(scale.elementCount()));
        for (size_t i = 0; i < mScales.size(); ++i) mScales[i] = elementAt(scale, static_cast<int64_t>(i));
        mZeros.assign(mScales.size(), 0.0);
        if (io.hasInput(2))
            for (size_t i = 0; i < mZeros.size(); ++i) mZeros[i] = elementAt(io.input(2), static_cast<int64_t>(i));
    }

    ScaleIndexer mIndex;
    std::vector<double> mScales, mZeros;

private:
    int64_t mAxis, mBlockSize;
};

/// x / scale as ONNX's reference divides: in double for int32 and double data or a double scale
/// (numpy promotes), in float32 for the float, float16 and bfloat16 types.
template <typename X>
double divideByScale(X x, double scale, bool inDouble) {
    return inDouble ? static_cast<double>(x) / scale
                    : static_cast<double>(static_cast<float>(x) / static_cast<float>(scale));
}

class QuantizeLinearKernel : public LinearQuantizationKernel {
public:
    QuantizeLinearKernel(int64_t axis, int64_t blockSize, bool saturate)
        : LinearQuantizationKernel(axis, blockSize), mSaturate(saturate) {}
    std::string tacticName() const override { return "cpu.quantize_linear"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        const bool inDouble =
            x.dtype == DataType::kINT32 || x.dtype == DataType::kDOUBLE || io.input(1).dtype == DataType::kDOUBLE;
        readScales(io);
        if (isLowBitType(y.dtype)) return quantizeToLowBit(x, y, inDouble);
        const int64_t count = x.elementCount();
        const std::vector<double>& scales = mScales;
        const std::vector<double>& zeros = mZeros;
        return dispatchDataType(y.dtype, [&](auto qtag) -> Status {
            using Q = decltype(qtag);
            if constexpr (std::is_integral_v<Q> && !std::is_same_v<Q, bool> && sizeof(Q) <= 2) {
                return dispatchDataType(x.dtype, [&](auto xtag) -> Status {
                    using X = decltype(xtag);
                    const X* in = x.as<const X>();
                    Q* out = y.as<Q>();
#pragma omp parallel for schedule(static) if (count >= 65536)
                    for (int64_t i = 0; i < count; ++i) {
                        const size_t p = static_cast<size_t>(mIndex(i));
                        out[i] = saturateRound<Q>(std::nearbyint(divideByScale(in[i], scales[p], inDouble)) + zeros[p]);
                    }
                    return Status::ok();
                });
            } else {
                return unsupported(std::string("no QuantizeLinear kernel for output type ") + dataTypeName(y.dtype));
            }
        });
    }

private:
    /// The 4- and 2-bit integers round and clamp to their range like int8; the float8 and float4
    /// formats take x / scale + zero point (the zero point is 0 in practice) rounded to nearest
    /// even, overflow handled as `saturate` says.
    Status quantizeToLowBit(const TensorView& x, const TensorView& y, bool inDouble) {
        const int64_t count = x.elementCount();
        const DataType q = y.dtype;
        const bool integer = isLowBitIntegerType(q);
        const IntegerRange range = lowBitIntegerRange(q);
        LowBitCastMode mode;
        mode.saturate = mSaturate;
        const std::vector<double>& scales = mScales;
        const std::vector<double>& zeros = mZeros;
        uint8_t* out = y.as<uint8_t>();
        return dispatchDataType(x.dtype, [&](auto xtag) -> Status {
            using X = decltype(xtag);
            if constexpr (std::is_floating_point_v<X> || std::is_same_v<X, Half> || std::is_same_v<X, BFloat16> ||
                          std::is_same_v<X, int32_t>) {
                const X* in = x.as<const X>();
#pragma omp parallel for schedule(static) if (count >= 65536)
                for (int64_t i = 0; i < count; ++i) {
                    const size_t p = static_cast<size_t>(mIndex(i));
                    const double scaled = divideByScale(in[i], scales[p], inDouble);
                    if (integer) {
                        const double clamped =
                            std::clamp(std::nearbyint(scaled) + zeros[p], static_cast<double>(range.lowest),
                                       static_cast<double>(range.highest));
                        out[i] = lowBitFromInteger(q, static_cast<int64_t>(clamped));
                    } else {
                        out[i] = lowBitFromDouble(q, scaled + zeros[p], mode);
                    }
                }
                return Status::ok();
            } else {
                return unsupported(std::string("no QuantizeLinear kernel for input type ") + dataTypeName(x.dtype));
            }
        });
    }

    bool mSaturate;
};

class DequantizeLinearKernel : public LinearQuantizationKernel {
public:
    using LinearQuantizationKernel::LinearQuantizationKernel;
    std::string tacticName() const override { return "cpu.dequantize_linear"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        readScales(io);
        if (isLowBitType(x.dtype)) {
            // A low-bit element has at most 256 codes: decode each once.
            for (size_t code = 0; code < mDecoded.size(); ++code)
                mDecoded[code] = lowBitToDouble(x.dtype, static_cast<uint8_t>(code));
            const uint8_t* in = x.as<const uint8_t>();
            return dequantize(y, x.elementCount(), [&](int64_t i) { return mDecoded[in[i]]; });
        }
        return dispatchDataType(x.dtype, [&](auto xtag) -> Status {
            using X = decltype(xtag);
            const X* in = x.as<const X>();
            return dequantize(y, x.elementCount(), [&](int64_t i) { return static_cast<double>(in[i]); });
        });
    }

private:
    /// y = (x - zero point) * scale, in double for a double output and in float32 otherwise (as
    /// ONNX's reference computes); `read(i)` is element i of x.
    template <typename Read>
    Status dequantize(const TensorView& y, int64_t count, Read read) {
        const std::vector<double>& scales = mScales;
        const std::vector<double>& zeros = mZeros;
        return dispatchDataType(y.dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
                T* out = y.as<T>();
#pragma omp parallel for schedule(static) if (count >= 65536)
                for (int64_t i = 0; i < count; ++i) {
                    const size_t p = static_cast<size_t>(mIndex(i));
                    if constexpr (std::is_same_v<T, double>)
                        out[i] = (read(i) - zeros[p]) * scales[p];
                    else
                        out[i] = static_cast<T>((static_cast<float>(read(i)) - static_cast<float>(zeros[p])) *
                                                static_cast<float>(scales[p]));
                }
                return Status::ok();
            } else {
                return unsupported(std::string("no DequantizeLinear kernel for output type ") + dataTypeName(y.dtype));
            }
        });
    }

    std::array<double, 256> mDecoded{};
};

class DynamicQuantizeLinearKernel : public Kernel {
public:
    std::string tacticName() const override { return "cpu.dynamic_quantize_linear"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const float* in = x.as<const float>();
        const int64_t count = x.elementCount();
        float lo = 0, hi = 0;  // the range always includes 0, so that 0 is exact
        for (int64_t i = 0; i < count; ++i) {
            lo = std::min(lo, in[i]);
            hi = std::max(hi, in[i]);
        }
        const float scale = (hi - lo) / 255.0f;
        const float zeroPoint = scale == 0 ? 0.0f : std::nearbyint(std::clamp(0.0f - lo / scale, 0.0f, 255.0f));
        uint8_t* y = io.output(0).as<uint8_t>();
        for (int64_t i = 0; i < count; ++i)
            y[i] = scale == 0 ? static_cast<uint8_t>(zeroPoint) : saturateRound<uint8_t>(std::nearbyint(in[i] / scale) + zeroPoint);
        if (io.numOutputs > 1 && io.output(1).data) io.output(1).as<float>()[0] = scale;
        if (io.numOutputs > 2 && io.output(2).data) io.output(2).as<uint8_t>()[0] = static_cast<uint8_t>(zeroPoint);
        return Status::ok();
    }
};

}  // namespace

void registerQuantizationKernels(CpuKernelRegistry& registry) {
    // Both convert to or from the low-bit types themselves (lowBitTypes).
    registry.add({"QuantizeLinear", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<QuantizeLinearKernel>(
                          node.attrs.getInt("axis", 1), node.attrs.getInt("block_size", 0),
                          node.attrs.getInt("saturate", 1) != 0));
                  },
                  "", false, true});
    registry.add({"DequantizeLinear", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<DequantizeLinearKernel>(node.attrs.getInt("axis", 1), node.attrs.getInt("block_size", 0)));
                  },
                  "", false, true});
    registry.add({"DynamicQuantizeLinear", nullptr,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<DynamicQuantizeLinearKernel>()); },
                  ""});
    quantkernels::registerIntegerKernels(registry);
}

}  // namespace kiln
