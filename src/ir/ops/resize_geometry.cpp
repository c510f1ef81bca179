#include "ir/ops/resize_geometry.h"

#include <algorithm>
#include <cmath>

#include "ir/sym_shape.h"

namespace kiln {

namespace {

template <typename E>
Expected<E> parseChoice(const AttributeMap& attrs, const std::string& name, const std::string& fallback,
                        std::initializer_list<std::pair<const char*, E>> choices) {
    std::string value = attrs.getString(name, fallback);
    for (const auto& [text, e] : choices)
        if (value == text) return e;
    return invalidModel("attribute " + name + " has the unknown value '" + value + "'");
}

}  // namespace

Expected<ResizeAttributes> parseResizeAttributes(const AttributeMap& attrs) {
    ResizeAttributes r;
    KILN_ASSIGN_OR_RETURN(r.mode, parseChoice<ResizeMode>(attrs, "mode", "nearest",
                                                          {{"nearest", ResizeMode::kNearest}, {"linear", ResizeMode::kLinear}, {"cubic", ResizeMode::kCubic}}));
    KILN_ASSIGN_OR_RETURN(r.nearest, parseChoice<NearestMode>(attrs, "nearest_mode", "round_prefer_floor",
                                                              {{"round_prefer_floor", NearestMode::kRoundPreferFloor},
                                                               {"round_prefer_ceil", NearestMode::kRoundPreferCeil},
                                                               {"floor", NearestMode::kFloor},
                                                               {"ceil", NearestMode::kCeil}}));
    KILN_ASSIGN_OR_RETURN(r.coordinates, parseChoice<CoordinateMode>(attrs, "coordinate_transformation_mode", "half_pixel",
                                                                     {{"half_pixel", CoordinateMode::kHalfPixel},
                                                                      {"half_pixel_symmetric", CoordinateMode::kHalfPixelSymmetric},
                                                                      {"pytorch_half_pixel", CoordinateMode::kPytorchHalfPixel},
                                                                      {"align_corners", CoordinateMode::kAlignCorners},
                                                                      {"asymmetric", CoordinateMode::kAsymmetric},
                                                                      {"tf_half_pixel_for_nn", CoordinateMode::kTfHalfPixelForNn},
                                                                      {"tf_crop_and_resize", CoordinateMode::kTfCropAndResize}}));
    KILN_ASSIGN_OR_RETURN(r.aspect, parseChoice<AspectPolicy>(attrs, "keep_aspect_ratio_policy", "stretch",
                                                              {{"stretch", AspectPolicy::kStretch},
                                                               {"not_larger", AspectPolicy::kNotLarger},
                                                               {"not_smaller", AspectPolicy::kNotSmaller}}));
    r.antialias = attrs.getInt("antialias", 0) != 0;
    if (r.antialias && r.mode == ResizeMode::kNearest) return invalidModel("antialias is not defined for mode nearest");
    r.excludeOutside = attrs.getInt("exclude_outside", 0) != 0;
    r.cubicCoeffA = attrs.getFloat("cubic_coeff_a", -0.75f);
    r.extrapolationValue = attrs.getFloat("extrapolation_value", 0.0f);
    r.axes = attrs.getInts("axes", {});
    return r;
}

Expected<ResizeGeometry> resizeGeometry(const Shape& x, const ResizeAttributes& attrs, const std::vector<double>& roi,
                                        const std::optional<std::vector<double>>& scales,
                                        const std::optional<std::vector<int64_t>>& sizes) {
    const size_t rank = x.size();
    std::vector<size_t> axes;
    if (attrs.axes.empty()) {
        for (size_t a = 0; a < rank; ++a) axes.push_back(a);
    } else {
        for (int64_t a : attrs.axes) {
            auto n = normalizeAxis(a, static_cast<int64_t>(rank));
            if (!n) return invalidModel("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
            if (std::find(axes.begin(), axes.end(), static_cast<size_t>(*n)) != axes.end())
                return invalidModel("axis " + std::to_string(a) + " repeats");
            axes.push_back(static_cast<size_t>(*n));
        }
    }
    if (scales.has_value() == sizes.has_value()) return invalidModel("exactly one of scales and sizes must be given");
    const size_t given = scales ? scales->size() : sizes->size();
    if (given != axes.size())
        return invalidModel(std::string(scales ? "scales" : "sizes") + " has " + std::to_string(given) + " entries for " +
                            std::to_string(axes.size()) + " resized axes");
    ResizeGeometry g;
    g.output = x;
    g.scales.assign(rank, 1.0);
    g.roiStart.assign(rank, 0.0);
    g.roiEnd.assign(rank, 1.0);
    if (attrs.coordinates == CoordinateMode::kTfCropAndResize && !roi.empty()) {
        if (roi.size() != 2 * axes.size())
            return invalidModel("roi has " + std::to_string(roi.size()) + " entries; 2 per resized axis (" + std::to_string(2 * axes.size()) + ") are needed");
        for (size_t i = 0; i < axes.size(); ++i) {
            g.roiStart[axes[i]] = roi[i];
            g.roiEnd[axes[i]] = roi[axes.size() + i];
        }
    }
    if (scales) {
        for (size_t i = 0; i < axes.size(); ++i) {
            double s = (*scales)[i];
            if (!(s > 0)) return invalidModel("scale " + std::to_string(s) + " must be positive");
            g.scales[axes[i]] = s;
            g.output[axes[i]] = static_cast<int64_t>(s * static_cast<double>(x[axes[i]]));
        }
        return g;
    }
    for (size_t i = 0; i < axes.size(); ++i) {
        if ((*sizes)[i] < 0) return invalidModel("size " + std::to_string((*sizes)[i]) + " is negative");
        if (x[axes[i]] == 0) return invalidModel("cannot resize an axis of extent 0 to a given size");
        g.output[axes[i]] = (*sizes)[i];
        g.scales[axes[i]] = static_cast<double>((*sizes)[i]) / static_cast<double>(x[axes[i]]);
    }
    if (attrs.aspect != AspectPolicy::kStretch) {
        double scale = g.scales[axes[0]];
        for (size_t a : axes) scale = attrs.aspect == AspectPolicy::kNotLarger ? std::min(scale, g.scales[a]) : std::max(scale, g.scales[a]);
        for (size_t a : axes) {
            g.scales[a] = scale;
            g.output[a] = static_cast<int64_t>(scale * static_cast<double>(x[a]) + 0.5);
        }
    }
    return g;
}

}  // namespace kiln
