// CPU kernels of the linear quantizers: QuantizeLinear y = saturate(round(x / scale) + zero_point),
// DequantizeLinear y = (x - zero_point) * scale, each with a per-tensor, per-axis or blocked scale,
// and DynamicQuantizeLinear (uint8, scale and zero point from the input's range). The arithmetic
// (backends/quantization_rules.h, shared with the CUDA kernels) follows ONNX's reference: float32 for
// float, float16 and bfloat16 data, round half to even.
// The low-bit types (float8, float4, int4, int2, ...) go through common/low_precision.h: as the
// quantized side, as float8e8m0 scales and as zero points.

#include <array>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/quantization_parts.h"
#include "backends/quantization_rules.h"

namespace kiln {

namespace {

using quantkernels::elementAt;

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

class QuantizeLinearKernel : public LinearQuantizationKernel {
public:
    QuantizeLinearKernel(int64_t axis, int64_t blockSize, bool saturate, std::optional<QuantizeDivision> precision)
        : LinearQuantizationKernel(axis, blockSize), mSaturate(saturate), mPrecision(precision) {}
    std::string tacticName() const override { return "cpu.quantize_linear"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        const QuantizeDivision division = mPrecision.value_or(defaultQuantizeDivision(x.dtype, io.input(1).dtype));
        readScales(io);
        if (isLowBitType(y.dtype)) return quantizeToLowBit(x, y, division);
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
                        out[i] = quantizeInteger<Q>(divideByScale(static_cast<double>(in[i]), scales[p], division), zeros[p]);
                    }
                    return Status::ok();
                });
            } else {
                return unsupported(std::string("no QuantizeLinear kernel for output type ") + dataTypeName(y.dtype));
            }
        });
    }

private:
    /// Each element by lowbit::quantize (common/low_precision_rules.h), the rule the CUDA kernel
    /// shares.
    Status quantizeToLowBit(const TensorView& x, const TensorView& y, QuantizeDivision division) {
        const int64_t count = x.elementCount();
        const DataType q = y.dtype;
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
                    out[i] = lowbit::quantize(q, divideByScale(static_cast<double>(in[i]), scales[p], division), zeros[p], mode);
                }
                return Status::ok();
            } else {
                return unsupported(std::string("no QuantizeLinear kernel for input type ") + dataTypeName(x.dtype));
            }
        });
    }

    bool mSaturate;
    std::optional<QuantizeDivision> mPrecision;  // the `precision` attribute, when given
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
                        out[i] = dequantizeInDouble(read(i), zeros[p], scales[p]);
                    else
                        out[i] = static_cast<T>(dequantizeInFloat(read(i), zeros[p], scales[p]));
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
        const DynamicQuantization q = dynamicQuantization(lo, hi);
        uint8_t* y = io.output(0).as<uint8_t>();
        for (int64_t i = 0; i < count; ++i) y[i] = dynamicQuantize(in[i], q);
        if (io.numOutputs > 1 && io.output(1).data) io.output(1).as<float>()[0] = q.scale;
        if (io.numOutputs > 2 && io.output(2).data) io.output(2).as<uint8_t>()[0] = static_cast<uint8_t>(q.zeroPoint);
        return Status::ok();
    }
};

}  // namespace

void registerQuantizationKernels(CpuKernelRegistry& registry) {
    // Both convert to or from the low-bit types themselves (lowBitTypes).
    registry.add({"QuantizeLinear", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      auto precision = quantizeDivisionOf(node.attrs.getInt("precision", 0));
                      if (!precision) return precision.status().withContext(node.describe());
                      return std::unique_ptr<Kernel>(std::make_unique<QuantizeLinearKernel>(
                          node.attrs.getInt("axis", 1), node.attrs.getInt("block_size", 0),
                          node.attrs.getInt("saturate", 1) != 0, *precision));
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
