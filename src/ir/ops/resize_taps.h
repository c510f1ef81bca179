#pragma once
// The interpolation taps of Resize along one axis, by ONNX's reference semantics: the source
// coordinate of an output coordinate (coordinate_transformation_mode), its left tap and fraction, and
// the weight of each tap (nearest_mode, linear, cubic; stretched by 1/scale when antialiasing a
// downscale; outside taps dropped and the rest renormalized when exclude_outside). Header-only and
// __host__ __device__ under nvcc, so the CPU kernel and the CUDA kernel compute the same taps from
// one definition instead of two.

#include <cmath>
#include <cstdint>

#include "ir/ops/resize_geometry.h"

#ifdef __CUDACC__
#define KILN_RESIZE_HD __host__ __device__
#else
#define KILN_RESIZE_HD
#endif

namespace kiln {

/// Everything the taps of one resized axis depend on; plain data, passed to device kernels by value.
struct ResizeAxisTaps {
    ResizeMode mode{ResizeMode::kNearest};
    NearestMode nearest{NearestMode::kRoundPreferFloor};
    CoordinateMode coordinates{CoordinateMode::kHalfPixel};
    bool antialias{false};
    bool excludeOutside{false};
    double cubicCoeffA{-0.75};
    double scale{1.0};
    int64_t inWidth{1};
    int64_t outWidth{1};
    double roiStart{0.0};
    double roiEnd{1.0};
    int64_t tapStart{0};  // first tap, relative to the left tap
    int64_t tapCount{2};
};

/// The taps of an axis resized from `inWidth` to `outWidth` by `scale`.
inline ResizeAxisTaps resizeAxisTaps(const ResizeAttributes& attrs, double scale, int64_t inWidth, int64_t outWidth,
                                     double roiStart, double roiEnd) {
    ResizeAxisTaps t;
    t.mode = attrs.mode;
    t.nearest = attrs.nearest;
    t.coordinates = attrs.coordinates;
    t.antialias = attrs.antialias && attrs.mode != ResizeMode::kNearest;
    t.excludeOutside = attrs.excludeOutside;
    t.cubicCoeffA = attrs.cubicCoeffA;
    t.scale = scale;
    t.inWidth = inWidth;
    t.outWidth = outWidth;
    t.roiStart = roiStart;
    t.roiEnd = roiEnd;
    // The filter's support is 1 (linear) or 2 (cubic) source pixels each side, widened by 1/scale when
    // antialiasing a downscale.
    const double s = scale < 1.0 ? scale : 1.0;
    if (t.mode == ResizeMode::kNearest || (t.mode == ResizeMode::kLinear && !t.antialias)) {
        t.tapStart = 0;
    } else if (t.mode == ResizeMode::kCubic && !t.antialias) {
        t.tapStart = -1;
    } else {
        const double support = t.mode == ResizeMode::kLinear ? 1.0 : 2.0;
        t.tapStart = static_cast<int64_t>(std::floor(-support / s) + 1);
    }
    t.tapCount = 2 - 2 * t.tapStart;
    return t;
}

/// Where output coordinate `y` samples the input; `extrapolated` is set for tf_crop_and_resize
/// coordinates outside the input (they take extrapolation_value).
KILN_RESIZE_HD inline double resizeSourceCoordinate(const ResizeAxisTaps& t, double y, bool* extrapolated) {
    *extrapolated = false;
    const double inWidth = static_cast<double>(t.inWidth);
    const double outWidthF = t.scale * inWidth;
    switch (t.coordinates) {
        case CoordinateMode::kAlignCorners:
            return outWidthF == 1 ? 0.0 : y * (inWidth - 1) / (outWidthF - 1);
        case CoordinateMode::kAsymmetric:
            return y / t.scale;
        case CoordinateMode::kTfHalfPixelForNn:
            return (y + 0.5) / t.scale;
        case CoordinateMode::kTfCropAndResize: {
            double x = outWidthF == 1 ? (t.roiEnd - t.roiStart) * (inWidth - 1) / 2
                                      : y * (t.roiEnd - t.roiStart) * (inWidth - 1) / (outWidthF - 1);
            x += t.roiStart * (inWidth - 1);
            *extrapolated = x < 0 || x > inWidth - 1;
            return x;
        }
        case CoordinateMode::kPytorchHalfPixel:
            return outWidthF == 1 ? -0.5 : (y + 0.5) / t.scale - 0.5;
        case CoordinateMode::kHalfPixel:
            return (y + 0.5) / t.scale - 0.5;
        case CoordinateMode::kHalfPixelSymmetric: {
            const double adjustment = static_cast<double>(t.outWidth) / outWidthF;
            const double center = inWidth / 2;
            return center * (1 - adjustment) + (y + 0.5) / t.scale - 0.5;
        }
    }
    return y;
}

KILN_RESIZE_HD inline double resizeCubicKernel(double x, double a) {
    x = std::fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
}

/// The unnormalized weight of tap `i` (relative to the left tap, in [tapStart, tapStart + tapCount))
/// for a coordinate whose fraction past its left tap is `ratio` (in (0, 1]).
KILN_RESIZE_HD inline double resizeRawWeight(const ResizeAxisTaps& t, double ratio, int64_t i) {
    const double d = static_cast<double>(i) - ratio;
    switch (t.mode) {
        case ResizeMode::kNearest: {
            bool right = false;
            if (ratio == 1.0) right = true;  // an integral coordinate: the tap itself
            else if (t.nearest == NearestMode::kRoundPreferFloor) right = ratio > 0.5;
            else if (t.nearest == NearestMode::kRoundPreferCeil) right = ratio >= 0.5;
            else if (t.nearest == NearestMode::kCeil) right = true;
            return (i == 1) == right ? 1.0 : 0.0;
        }
        case ResizeMode::kLinear: {
            if (!t.antialias) return i == 0 ? 1 - ratio : ratio;
            const double s = t.scale < 1.0 ? t.scale : 1.0;
            const double w = 1 - std::fabs(d * s);
            return w < 0 ? 0.0 : (w > 1 ? 1.0 : w);
        }
        case ResizeMode::kCubic: {
            const double s = t.antialias && t.scale < 1.0 ? t.scale : 1.0;
            return resizeCubicKernel(s * d, t.cubicCoeffA);
        }
    }
    return 0.0;
}

/// The taps of one output coordinate: weight j applies to source index first + j (clamped to the
/// edge), for j in [0, tapCount).
struct ResizeTapSpan {
    int64_t first{0};
    double ratio{1.0};
    double norm{1.0};  // the raw weights are divided by it
    bool extrapolated{false};
};

KILN_RESIZE_HD inline ResizeTapSpan resizeTapSpan(const ResizeAxisTaps& t, int64_t y) {
    ResizeTapSpan span;
    const double x = resizeSourceCoordinate(t, static_cast<double>(y), &span.extrapolated);
    double left = std::floor(x);
    span.ratio = x - left;
    if (span.ratio == 0) {  // integral: the tap before it is "left", with ratio 1
        left -= 1;
        span.ratio = 1;
    }
    span.first = static_cast<int64_t>(left) + t.tapStart;
    // Antialiased filters are normalized over all their taps, exclude_outside over the taps inside
    // the input (a sum of 0 leaves the weights as they are: all of them are 0 then).
    if (t.antialias || t.excludeOutside) {
        double sum = 0;
        for (int64_t j = 0; j < t.tapCount; ++j) {
            const int64_t index = span.first + j;
            if (t.excludeOutside && (index < 0 || index >= t.inWidth)) continue;
            sum += resizeRawWeight(t, span.ratio, t.tapStart + j);
        }
        if (sum != 0) span.norm = sum;
    }
    return span;
}

/// The weight of tap j of `span`.
KILN_RESIZE_HD inline double resizeTapWeight(const ResizeAxisTaps& t, const ResizeTapSpan& span, int64_t j) {
    const int64_t index = span.first + j;
    if (t.excludeOutside && (index < 0 || index >= t.inWidth)) return 0.0;
    return resizeRawWeight(t, span.ratio, t.tapStart + j) / span.norm;
}

}  // namespace kiln
