// CPU kernel of Resize: nearest, linear and cubic interpolation, separable, one pass per resized
// axis in double precision, as ONNX's reference computes it. The taps of each output coordinate
// (ir/ops/resize_taps.h, shared with the CUDA kernel) clamp to the edge; tf_crop_and_resize gives
// extrapolation_value to coordinates outside the input.

#include <cmath>
#include <limits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "ir/ops/resize_geometry.h"
#include "ir/ops/resize_taps.h"

namespace kiln {

namespace {

/// The taps of one output coordinate along one axis.
struct Taps {
    int64_t first{0};  // source index of weights[0] (before clamping)
    std::vector<double> weights;
    bool extrapolated{false};
};

std::vector<Taps> axisTaps(const ResizeAttributes& attrs, double scale, int64_t inWidth, int64_t outWidth, double roiStart, double roiEnd) {
    const ResizeAxisTaps axis = resizeAxisTaps(attrs, scale, inWidth, outWidth, roiStart, roiEnd);
    std::vector<Taps> taps(static_cast<size_t>(outWidth));
    for (int64_t y = 0; y < outWidth; ++y) {
        Taps& t = taps[static_cast<size_t>(y)];
        const ResizeTapSpan span = resizeTapSpan(axis, y);
        t.first = span.first;
        t.extrapolated = span.extrapolated;
        t.weights.resize(static_cast<size_t>(axis.tapCount));
        for (int64_t j = 0; j < axis.tapCount; ++j) t.weights[static_cast<size_t>(j)] = resizeTapWeight(axis, span, j);
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
