#pragma once
// Resize's attributes and the output extents and per-axis scale factors that its scales or sizes
// input gives, by ONNX's reference semantics (axes, keep_aspect_ratio_policy, roi). Shared by the
// shape inference and the CPU kernel, so the shapes agree.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ir/attribute.h"
#include "ir/tensor.h"

namespace kiln {

enum class ResizeMode { kNearest, kLinear, kCubic };
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
enum class CoordinateMode { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn, kTfCropAndResize };
enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttributes {
    ResizeMode mode{ResizeMode::kNearest};
    NearestMode nearest{NearestMode::kRoundPreferFloor};
    CoordinateMode coordinates{CoordinateMode::kHalfPixel};
    AspectPolicy aspect{AspectPolicy::kStretch};
    bool antialias{false};
    bool excludeOutside{false};
    double cubicCoeffA{-0.75};
    double extrapolationValue{0.0};
    std::vector<int64_t> axes;  // as given (may be negative); empty: every axis
};

/// Reads and validates Resize's attributes; errors carry no node context.
Expected<ResizeAttributes> parseResizeAttributes(const AttributeMap& attrs);

struct ResizeGeometry {
    Shape output;
    std::vector<double> scales;    // per axis of X (1 where not resized)
    std::vector<double> roiStart;  // per axis of X, for tf_crop_and_resize (0 elsewhere)
    std::vector<double> roiEnd;    // per axis of X (1 elsewhere)
};

/// The output extents and scale factors for input shape `x`, from `scales` or `sizes` (exactly
/// one given), over the attributes' axes; `roi` as given (empty when omitted).
Expected<ResizeGeometry> resizeGeometry(const Shape& x, const ResizeAttributes& attrs, const std::vector<double>& roi,
                                        const std::optional<std::vector<double>>& scales,
                                        const std::optional<std::vector<int64_t>>& sizes);

}  // namespace kiln
