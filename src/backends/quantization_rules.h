#pragma once
// The arithmetic of the quantization ops, written once for the CPU kernels
// (backends/cpu/kernels/quantization_*.cpp) and the CUDA kernels (backends/cuda/kernels/
// quantize_linear.cu, quantized_integer.cu), all KILN_HD: which scale entry an element uses, the
// division by the scale and its type (`precision`), the dequantization formula,
// DynamicQuantizeLinear's parameters and QLinear*'s requantization. The arithmetic follows ONNX's
// reference: float32 for float, float16 and bfloat16 data, double where numpy promotes to it, round
// half to even. The element rules themselves (saturateRound, the low-bit conversions) are in
// common/element_rules.h and common/low_precision_rules.h.

#include <optional>
#include <string>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

#include "common/element_rules.h"
#include "common/half.h"
#include "common/host_device.h"
#include "common/status.h"
#include "ir/onnx_types.h"
#include "ir/sym_shape.h"
#include "ir/tensor.h"

namespace kiln {

/// Which scale (and zero-point) entry each element of QuantizeLinear's / DequantizeLinear's X uses:
/// one for the whole tensor, one per index of `axis`, or one per block of `block_size` indices along
/// `axis` (the scale then has X's shape with that axis divided into blocks). reshape() plans on the
/// host; operator() runs in the CPU loop and inside a CUDA kernel (the class is trivially copyable and
/// is passed to the kernel by value).
class ScaleIndexer {
public:
    /// Plans the layout of `scale` against `x`; an error says why they do not fit.
    Status reshape(const Shape& x, const Shape& scale, int64_t axisAttr, int64_t blockSize) {
        const int64_t scaleCount = shapeElementCount(scale);
        mMode = Mode::kTensor;
        if (scale.empty() || (scale.size() == 1 && scaleCount == 1 && blockSize == 0)) return Status::ok();
        auto axis = normalizeAxis(axisAttr, static_cast<int64_t>(x.size()));
        if (!axis)
            return invalidArgument("axis " + std::to_string(axisAttr) + " is out of range for rank " +
                                   std::to_string(x.size()));
        const size_t a = static_cast<size_t>(*axis);
        mExtent = x[a];
        mInner = 1;
        for (size_t d = a + 1; d < x.size(); ++d) mInner *= x[d];
        if (blockSize <= 0) {
            if (scaleCount != mExtent)
                return invalidArgument("the scale has " + std::to_string(scaleCount) + " entries for axis " +
                                       std::to_string(a) + " of extent " + std::to_string(mExtent));
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

    /// The scale entry of X's element `i` (row-major).
    KILN_HD int64_t operator()(int64_t i) const {
        switch (mMode) {
            case Mode::kTensor:
                return 0;
            case Mode::kAxis:
                return (i / mInner) % mExtent;
            case Mode::kBlocked: {
                const int64_t inner = i % mInner;
                const int64_t along = (i / mInner) % mExtent;
                const int64_t outer = i / (mInner * mExtent);
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

/// The type QuantizeLinear divides x by the scale in.
enum class QuantizeDivision { kFloat, kDouble, kHalf, kBFloat16 };

/// Without the `precision` attribute: double for int32 and double data or a double scale (numpy
/// promotes), float32 for the float, float16 and bfloat16 types.
inline QuantizeDivision defaultQuantizeDivision(DataType x, DataType scale) {
    return x == DataType::kINT32 || x == DataType::kDOUBLE || scale == DataType::kDOUBLE ? QuantizeDivision::kDouble
                                                                                         : QuantizeDivision::kFloat;
}

/// QuantizeLinear's `precision` attribute (an ONNX element type; 0 when absent): the division type it
/// names, none when absent, an error for a type that is not floating.
inline Expected<std::optional<QuantizeDivision>> quantizeDivisionOf(int64_t precision) {
    if (precision == 0) return std::optional<QuantizeDivision>{};
    switch (dataTypeFromOnnx(precision).value_or(DataType::kSTRING)) {
        case DataType::kFLOAT:
            return std::optional<QuantizeDivision>{QuantizeDivision::kFloat};
        case DataType::kDOUBLE:
            return std::optional<QuantizeDivision>{QuantizeDivision::kDouble};
        case DataType::kHALF:
            return std::optional<QuantizeDivision>{QuantizeDivision::kHalf};
        case DataType::kBF16:
            return std::optional<QuantizeDivision>{QuantizeDivision::kBFloat16};
        default:
            return invalidArgument("QuantizeLinear's precision " + std::to_string(precision) +
                                   " is not a floating-point type (float, double, float16 or bfloat16)");
    }
}

/// `v` rounded to float16 or bfloat16 (to nearest even) and back.
KILN_HD inline float roundToHalf(float v) {
#if defined(__CUDA_ARCH__)
    return __half2float(__float2half_rn(v));
#else
    return halfBitsToFloat(floatToHalfBits(v));
#endif
}
KILN_HD inline float roundToBFloat16(float v) {
#if defined(__CUDA_ARCH__)
    return __bfloat162float(__float2bfloat16_rn(v));
#else
    return bf16BitsToFloat(floatToBf16Bits(v));
#endif
}

/// x / scale in the type `division` names, as ONNX's reference divides (numpy: the operands converted
/// to that type, the quotient rounded to it).
KILN_HD inline double divideByScale(double x, double scale, QuantizeDivision division) {
    const float fx = static_cast<float>(x), fs = static_cast<float>(scale);
    switch (division) {
        case QuantizeDivision::kDouble:
            return x / scale;
        case QuantizeDivision::kHalf:
            return roundToHalf(roundToHalf(fx) / roundToHalf(fs));
        case QuantizeDivision::kBFloat16:
            return roundToBFloat16(roundToBFloat16(fx) / roundToBFloat16(fs));
        case QuantizeDivision::kFloat:
            break;
    }
    return static_cast<double>(fx / fs);
}

/// QuantizeLinear into int8, uint8, int16 or uint16: round x / scale half to even, add the zero point,
/// saturate.
template <typename Q>
KILN_HD inline Q quantizeInteger(double scaled, double zeroPoint) {
    return saturateRound<Q>(::nearbyint(scaled) + zeroPoint);
}

/// DequantizeLinear's (x - zero point) * scale in float32 (float, float16 and bfloat16 outputs).
KILN_HD inline float dequantizeInFloat(double x, double zeroPoint, double scale) {
    return (static_cast<float>(x) - static_cast<float>(zeroPoint)) * static_cast<float>(scale);
}
/// The same in double (a double output).
KILN_HD inline double dequantizeInDouble(double x, double zeroPoint, double scale) {
    return (x - zeroPoint) * scale;
}

/// DynamicQuantizeLinear's uint8 parameters from the data's range [lo, hi] (which includes 0, so
/// that 0 is exact), in float32 as ONNX's reference computes them.
struct DynamicQuantization {
    float scale;
    float zeroPoint;
};
KILN_HD inline DynamicQuantization dynamicQuantization(float lo, float hi) {
    const float scale = (hi - lo) / 255.0f;
    if (scale == 0) return {scale, 0.0f};
    float zero = 0.0f - lo / scale;
    zero = zero < 0.0f ? 0.0f : (zero > 255.0f ? 255.0f : zero);
    return {scale, ::nearbyintf(zero)};
}
/// One element under those parameters (all zero points when the range is empty).
KILN_HD inline uint8_t dynamicQuantize(float x, DynamicQuantization q) {
    if (q.scale == 0) return static_cast<uint8_t>(q.zeroPoint);
    return saturateRound<uint8_t>(static_cast<double>(::nearbyintf(x / q.scale) + q.zeroPoint));
}

/// QLinearMatMul's and QLinearConv's scale of the int32 accumulator: a_scale * b_scale / y_scale in
/// float32.
KILN_HD inline float requantizeMultiplier(double aScale, double bScale, double yScale) {
    return static_cast<float>(aScale) * static_cast<float>(bScale) / static_cast<float>(yScale);
}
/// The accumulator as int8 / uint8: round(acc * multiplier) half to even, plus the zero point, saturated.
template <typename Q>
KILN_HD inline Q requantize(int64_t acc, float multiplier, double zeroPoint) {
    return saturateRound<Q>(::nearbyint(static_cast<double>(acc) * static_cast<double>(multiplier)) + zeroPoint);
}

}  // namespace kiln
