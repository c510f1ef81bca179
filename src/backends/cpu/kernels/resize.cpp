// CPU kernel of Resize: nearest, linear and cubic interpolation, separable, one pass per resized
// axis in double precision, as ONNX's reference computes it. Each output coordinate maps to a
// source coordinate by the coordinate_transformation_mode; its n taps start at the tap left of it
// (an integral coordinate counts as lying right of the tap before it), take weights from the
// mode's filter (stretched by 1/scale when antialiasing a downscale), clamp to the edge, and drop
// outside taps when exclude_outside. tf_crop_and_resize gives extrapolation_value to coordinates
// outside the input.

#include <cmath>
#include <limits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "ir/ops/resize_geometry.h"

namespace kiln {

namespace {

/// The taps of one output coordinate along one axis.
struct Taps {
    int64_t first{0};  // source index of weights[0] (before clamping)
    std::vector<double> weights;
    bool extrapolated{false};
};

double sourceCoordinate(CoordinateMode mode, double y, double scale, int64_t inWidth, int64_t outWidth, double roiStart,
                        double roiEnd, bool* extrapolated) {
    const double outWidthF = scale * static_cast<double>(inWidth);
    switch (mode) {
        case CoordinateMode::kAlignCorners:
            return outWidthF == 1 ? 0.0 : y * static_cast<double>(inWidth - 1) / (outWidthF - 1);
        case CoordinateMode::kAsymmetric:
            return y / scale;
        case CoordinateMode::kTfHalfPixelForNn:
            return (y + 0.5) / scale;
        case CoordinateMode::kTfCropAndResize: {
            double x = outWidthF == 1 ? (roiEnd - roiStart) * static_cast<double>(inWidth - 1) / 2
                                      : y * (roiEnd - roiStart) * static_cast<double>(inWidth - 1) / (outWidthF - 1);
            x += roiStart * static_cast<double>(inWidth - 1);
            *extrapolated = x < 0 || x > static_cast<double>(inWidth - 1);
            return x;
        }
        case CoordinateMode::kPytorchHalfPixel:
            return outWidthF == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
        case CoordinateMode::kHalfPixel:
            return (y + 0.5) / scale - 0.5;
        case CoordinateMode::kHalfPixelSymmetric: {
            double adjustment = static_cast<double>(outWidth) / outWidthF;
            double center = static_cast<double>(inWidth) / 2;
            return center * (1 - adjustment) + (y + 0.5) / scale - 0.5;
        }
    }
    return y;
}

double cubicKernel(double x, double a) {
    x = std::abs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
}

/// The filter weights for a coordinate whose fraction past its left tap is `ratio` (in (0, 1]).
std::vector<double> filterWeights(const ResizeAttributes& attrs, double ratio, double scale, int64_t* firstOffset) {
    switch (attrs.mode) {
        case ResizeMode::kNearest: {
            *firstOffset = 0;
            bool right = false;
            if (ratio == 1.0) right = true;  // an integral coordinate: the tap itself
            else if (attrs.nearest == NearestMode::kRoundPreferFloor) right = ratio > 0.5;
            else if (attrs.nearest == NearestMode::kRoundPreferCeil) right = ratio >= 0.5;
            else if (attrs.nearest == NearestMode::kCeil) right = true;
            return {right ? 0.0 : 1.0, right ? 1.0 : 0.0};
        }
        case ResizeMode::kLinear: {
            if (!attrs.antialias) {
                *firstOffset = 0;
                return {1 - ratio, ratio};
            }
            double s = std::min(scale, 1.0);
            int64_t start = static_cast<int64_t>(std::floor(-1 / s) + 1);
            int64_t footprint = 2 - 2 * start;
            std::vector<double> w;
            double sum = 0;
            for (int64_t i = start; i < start + footprint; ++i) {
                w.push_back(std::clamp(1 - std::abs((static_cast<double>(i) - ratio) * s), 0.0, 1.0));
                sum += w.back();
            }
            for (double& v : w) v /= sum;
            *firstOffset = start;
            return w;
        }
        case ResizeMode::kCubic: {
            const double a = attrs.cubicCoeffA;
            if (!attrs.antialias) {
                *firstOffset = -1;
                return {cubicKernel(ratio + 1, a), cubicKernel(ratio, a), cubicKernel(1 - ratio, a), cubicKernel(2 - ratio, a)};
            }
            double s = std::min(scale, 1.0);
            int64_t start = static_cast<int64_t>(std::floor(-2 / s) + 1);
            std::vector<double> w;
            double sum = 0;
            for (int64_t i = start; i < 2 - start; ++i) {
                w.push_back(cubicKernel(s * (static_cast<double>(i) - ratio), a));
                sum += w.back();
            }
            for (double& v : w) v /= sum;
            *firstOffset = start;
            return w;
        }
    }
    return {};
}

std::vector<Taps> axisTaps(const ResizeAttributes& attrs, double scale, int64_t inWidth, int64_t outWidth, double roiStart, double roiEnd) {
    std::vector<Taps> taps(static_cast<size_t>(outWidth));
    for (int64_t y = 0; y < outWidth; ++y) {
        Taps& t = taps[static_cast<size_t>(y)];
        double x = sourceCoordinate(attrs.coordinates, static_cast<double>(y), scale, inWidth, outWidth, roiStart, roiEnd, &t.extrapolated);
        double left = std::floor(x);
        double ratio = x - left;
        if (ratio == 0) {  // integral: the tap before it is "left", with ratio 1
            left -= 1;
            ratio = 1;
        }
        int64_t offset = 0;
        t.weights = filterWeights(attrs, ratio, scale, &offset);
        t.first = static_cast<int64_t>(left) + offset;
        if (attrs.excludeOutside) {
            double sum = 0;
            for (size_t j = 0; j < t.weights.size(); ++j) {
                int64_t index = t.first + static_cast<int64_t>(j);
                if (index < 0 || index >= inWidth) t.weights[j] = 0;
                sum += t.weights[j];
            }
            if (sum != 0)
                for (double& w : t.weights) w /= sum;
        }
    }
    return taps;
}

template <typename T>
T fromDouble(double v) {
    if constexpr (std::is_integral_v<T>) {
        v = std::nearbyint(v);
        return static_cast<T>(std::clamp(v, static_cast<double>(std::numeric_limits<T>::lowest()), static_cast<double>(std::numeric_limits<T>::max())));
    } else if constexpr (std::is_same_v<T, double>) {
        return v;
    } else {
        // Clamped to the finite range, as the reference's saturating cast does.
        const double limit = std::is_same_v<T, Half> ? 65504.0 : static_cast<double>(std::numeric_limits<float>::max());
        return static_cast<T>(static_cast<float>(std::isnan(v) ? v : std::clamp(v, -limit, limit)));
    }
}

class ResizeKernel : public Kernel {
public:
    explicit ResizeKernel(ResizeAttributes attrs) : mAttrs(std::move(attrs)) {}
    std::string tacticName() const override { return "cpu.resize_separable"; }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        // Two ping-pong buffers, each large enough for any intermediate of the axis passes.
        int64_t largest = 1;
        for (size_t a = 0; a < inputs[0].shape.size(); ++a) largest *= std::max(inputs[0].shape[a], outputs[0].shape[a]);
        mWorkspace = 2 * static_cast<size_t>(largest) * sizeof(double);
        return Status::ok();
    }
    size_t workspaceSize() const override { return mWorkspace; }

    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        std::vector<double> roi;
        if (io.hasInput(1)) roi = readDoubles(io.input(1));
        std::optional<std::vector<double>> scales;
        std::optional<std::vector<int64_t>> sizes;
        if (io.hasInput(2) && io.input(2).elementCount() > 0) scales = readDoubles(io.input(2));
        if (io.hasInput(3)) {
            const TensorView& s = io.input(3);
            sizes = std::vector<int64_t>(s.as<const int64_t>(), s.as<const int64_t>() + s.elementCount());
        }
        KILN_ASSIGN_OR_RETURN(ResizeGeometry g, resizeGeometry(x.shape, mAttrs, roi, scales, sizes));
        if (g.output != io.output(0).shape)
            return internalError("output shape " + shapeToString(io.output(0).shape, true) + " differs from the resize's " + shapeToString(g.output, true));
        if (io.output(0).elementCount() == 0) return Status::ok();
        double* current = static_cast<double*>(io.workspace);
        double* next = current + mWorkspace / sizeof(double) / 2;
        dispatchDataType(x.dtype, [&](auto tag) {
            using T = decltype(tag);
            const T* in = x.as<const T>();
            for (int64_t i = 0; i < x.elementCount(); ++i) current[i] = static_cast<double>(in[i]);
        });
        Shape shape = x.shape;
        for (size_t axis = 0; axis < shape.size(); ++axis) {
            const int64_t inWidth = shape[axis], outWidth = g.output[axis];
            const bool identity = std::abs(g.scales[axis] - 1.0) <= 1e-9 && outWidth == inWidth && g.roiStart[axis] == 0.0 && g.roiEnd[axis] == 1.0;
            if (identity) continue;
            std::vector<Taps> taps = axisTaps(mAttrs, g.scales[axis], inWidth, outWidth, g.roiStart[axis], g.roiEnd[axis]);
            int64_t outer = 1, inner = 1;
            for (size_t d = 0; d < axis; ++d) outer *= shape[d];
            for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
#pragma omp parallel for schedule(static) if (outer * outWidth * inner >= 65536)
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t y = 0; y < outWidth; ++y) {
                    const Taps& t = taps[static_cast<size_t>(y)];
                    double* dst = next + (o * outWidth + y) * inner;
                    if (t.extrapolated) {
                        std::fill(dst, dst + inner, mAttrs.extrapolationValue);
                        continue;
                    }
                    std::fill(dst, dst + inner, 0.0);
                    for (size_t j = 0; j < t.weights.size(); ++j) {
                        const double w = t.weights[j];
                        if (w == 0) continue;
                        int64_t index = std::clamp<int64_t>(t.first + static_cast<int64_t>(j), 0, inWidth - 1);
                        const double* src = current + (o * inWidth + index) * inner;
                        for (int64_t i = 0; i < inner; ++i) dst[i] += w * src[i];
                    }
                }
            shape[axis] = outWidth;
            std::swap(current, next);
        }
        dispatchDataType(x.dtype, [&](auto tag) {
            using T = decltype(tag);
            if constexpr (!std::is_same_v<T, bool>) {
                T* out = io.output(0).as<T>();
                for (int64_t i = 0; i < io.output(0).elementCount(); ++i) out[i] = fromDouble<T>(current[i]);
            }
        });
        return Status::ok();
    }

private:
    static std::vector<double> readDoubles(const TensorView& v) {
        std::vector<double> out(static_cast<size_t>(v.elementCount()));
        dispatchDataType(v.dtype, [&](auto tag) {
            using T = decltype(tag);
            for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(v.as<const T>()[i]);
        });
        return out;
    }

    ResizeAttributes mAttrs;
    size_t mWorkspace{0};
};

}  // namespace

void registerResizeKernels(CpuKernelRegistry& registry) {
    registry.add({"Resize", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      auto attrs = parseResizeAttributes(node.attrs);
                      if (!attrs) return attrs.status().withContext(node.describe());
                      return std::unique_ptr<Kernel>(std::make_unique<ResizeKernel>(std::move(*attrs)));
                  },
                  ""});
}

}  // namespace kiln
