// CPU kernels of the image ops, general part (AffineGrid RoiAlign Col2Im CenterCropPad live in
// image_geometry.cpp): LRN, and GridSample (N-d; nearest, linear and cubic sampling with
// zeros, border or reflection padding), following ONNX's reference: the grid's coordinates are
// denormalized in float32, out-of-range coordinates are clamped or reflected before sampling, and
// each tap reads its pixel through the padding mode.

#include <array>
#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/image_parts.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

template <typename T>
double load(const T* p, int64_t i) {
    return static_cast<double>(p[i]);
}

class LrnKernel : public Kernel {
public:
    LrnKernel(double alpha, double beta, double bias, int64_t size) : mAlpha(alpha), mBeta(beta), mBias(bias), mSize(size) {}
    std::string tacticName() const override { return "cpu.lrn"; }
    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const int64_t batch = x.shape[0], channels = x.shape[1];
        const int64_t plane = x.elementCount() / std::max<int64_t>(1, batch * channels);
        const int64_t before = (mSize - 1) / 2, after = mSize - 1 - before;
        return dispatchDataType(x.dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
                const T* in = x.as<const T>();
                T* out = io.output(0).as<T>();
#pragma omp parallel for schedule(static) if (x.elementCount() >= 65536)
                for (int64_t nc = 0; nc < batch * channels; ++nc) {
                    const int64_t n = nc / channels, c = nc % channels;
                    for (int64_t p = 0; p < plane; ++p) {
                        double square = 0;
                        for (int64_t k = std::max<int64_t>(0, c - before); k <= std::min(channels - 1, c + after); ++k) {
                            double v = load(in, (n * channels + k) * plane + p);
                            square += v * v;
                        }
                        const int64_t i = nc * plane + p;
                        out[i] = static_cast<T>(static_cast<float>(load(in, i) / std::pow(mBias + mAlpha / static_cast<double>(mSize) * square, mBeta)));
                    }
                }
                return Status::ok();
            } else {
                return unsupported(std::string("no LRN kernel for ") + dataTypeName(x.dtype));
            }
        });
    }

private:
    double mAlpha, mBeta, mBias;
    int64_t mSize;
};

enum class SampleMode { kNearest, kLinear, kCubic };
enum class PaddingMode { kZeros, kBorder, kReflection };

/// Reflects x by the near border until it lies within [lo, hi].
double reflect(double x, double lo, double hi) {
    const double range = hi - lo;
    if (range <= 0) return lo;
    if (x < lo) {
        double dx = lo - x;
        int64_t n = static_cast<int64_t>(dx / range);
        double r = dx - static_cast<double>(n) * range;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi;
        int64_t n = static_cast<int64_t>(dx / range);
        double r = dx - static_cast<double>(n) * range;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

void cubicCoefficients(double t, double c[4]) {
    const double a = -0.75;
    c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
    c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    c[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
    c[3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
}

class GridSampleKernel : public Kernel {
public:
    GridSampleKernel(SampleMode mode, PaddingMode padding, bool alignCorners) : mMode(mode), mPadding(padding), mAlignCorners(alignCorners) {}
    std::string tacticName() const override { return "cpu.grid_sample"; }

    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& grid = io.input(1);
        const size_t dims = x.shape.size() - 2;
        if (grid.shape.back() != static_cast<int64_t>(dims))
            return invalidArgument("grid's last dimension is " + std::to_string(grid.shape.back()) + " for " + std::to_string(dims) + " spatial axes");
        const int64_t batch = x.shape[0], channels = x.shape[1];
        const Shape spatial(x.shape.begin() + 2, x.shape.end());
        const int64_t inPlane = shapeElementCount(spatial);
        const int64_t outPlane = shapeElementCount(Shape(grid.shape.begin() + 1, grid.shape.end() - 1));
        std::vector<double> gridValues(static_cast<size_t>(grid.elementCount()));
        dispatchDataType(grid.dtype, [&](auto tag) {
            using G = decltype(tag);
            for (size_t i = 0; i < gridValues.size(); ++i) gridValues[i] = static_cast<double>(grid.as<const G>()[i]);
        });
        return dispatchDataType(x.dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool>) {
                return unsupported("GridSample of bool tensors");
            } else {
                const T* in = x.as<const T>();
                T* out = io.output(0).as<T>();
                const int taps = mMode == SampleMode::kNearest ? 1 : mMode == SampleMode::kLinear ? 2 : 4;
#pragma omp parallel for schedule(static) if (batch * outPlane * channels >= 16384)
                for (int64_t np = 0; np < batch * outPlane; ++np) {
                    const int64_t n = np / outPlane, p = np % outPlane;
                    std::vector<int64_t> first(dims);
                    std::vector<std::array<double, 4>> weights(dims);
                    for (size_t d = 0; d < dims; ++d) {
                        // grid[..., 0] is the innermost (last) spatial axis.
                        const size_t axis = dims - 1 - d;
                        const double length = static_cast<double>(spatial[axis]);
                        const float g = static_cast<float>(gridValues[static_cast<size_t>((n * outPlane + p) * static_cast<int64_t>(dims)) + d]);
                        float v = mAlignCorners ? (g + 1) / 2.0f * static_cast<float>(length - 1) : ((g + 1) * static_cast<float>(length) - 1) / 2.0f;
                        double c = v;
                        if (mMode == SampleMode::kNearest) c = std::nearbyint(c);
                        const double lo = mAlignCorners ? 0.0 : -0.5, hi = mAlignCorners ? length - 1 : length - 0.5;
                        if (c < lo || c > hi) {
                            if (mPadding == PaddingMode::kBorder) c = std::clamp(c, 0.0, length - 1);
                            else if (mPadding == PaddingMode::kReflection) c = reflect(c, lo, hi);
                        }
                        if (mMode == SampleMode::kNearest) {
                            first[axis] = static_cast<int64_t>(c);
                            weights[axis] = {1, 0, 0, 0};
                        } else if (mMode == SampleMode::kLinear) {
                            double f = std::floor(c);
                            first[axis] = static_cast<int64_t>(f);
                            weights[axis] = {1 - (c - f), c - f, 0, 0};
                        } else {
                            double f = std::floor(c);
                            first[axis] = static_cast<int64_t>(f) - 1;
                            double w[4];
                            cubicCoefficients(c - f, w);
                            weights[axis] = {w[0], w[1], w[2], w[3]};
                        }
                    }
                    int64_t combos = 1;
                    for (size_t d = 0; d < dims; ++d) combos *= taps;
                    std::vector<int64_t> index(dims);
                    for (int64_t c = 0; c < channels; ++c) {
                        const T* plane = in + (n * channels + c) * inPlane;
                        double sum = 0;
                        for (int64_t k = 0; k < combos; ++k) {
                            double w = 1;
                            int64_t offset = 0, rest = k;
                            bool zero = false;
                            for (size_t axis = dims; axis-- > 0;) {
                                const int64_t t = rest % taps;
                                rest /= taps;
                                w *= weights[axis][static_cast<size_t>(t)];
                            }
                            if (w == 0) continue;
                            rest = k;
                            for (size_t axis = dims; axis-- > 0;) {
                                index[axis] = first[axis] + rest % taps;
                                rest /= taps;
                            }
                            for (size_t axis = 0; axis < dims; ++axis) {
                                const int64_t length = spatial[axis];
                                int64_t i = index[axis];
                                if (i < 0 || i >= length) {
                                    if (mPadding == PaddingMode::kZeros) {
                                        zero = true;
                                        break;
                                    }
                                    if (mPadding == PaddingMode::kBorder) {
                                        i = std::clamp<int64_t>(i, 0, length - 1);
                                    } else {
                                        const double lo = mAlignCorners ? 0.0 : -0.5, hi = mAlignCorners ? double(length - 1) : double(length) - 0.5;
                                        i = std::clamp<int64_t>(static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi)), 0, length - 1);
                                    }
                                }
                                offset = offset * length + i;
                            }
                            if (!zero) sum += w * load(plane, offset);
                        }
                        if constexpr (std::is_integral_v<T>)
                            out[(n * channels + c) * outPlane + p] = static_cast<T>(std::nearbyint(sum));
                        else
                            out[(n * channels + c) * outPlane + p] = static_cast<T>(static_cast<float>(sum));
                    }
                }
                return Status::ok();
            }
        });
    }

private:
    SampleMode mMode;
    PaddingMode mPadding;
    bool mAlignCorners;
};

}  // namespace

void registerImageKernels(CpuKernelRegistry& registry) {
    registry.add({"LRN", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<LrnKernel>(node.attrs.getFloat("alpha", 1e-4f), node.attrs.getFloat("beta", 0.75f),
                                                                                 node.attrs.getFloat("bias", 1.0f), node.attrs.getInt("size", 1)));
                  },
                  ""});
    registry.add({"GridSample", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      std::string mode = node.attrs.getString("mode", "linear");
                      SampleMode m = mode == "nearest" ? SampleMode::kNearest : (mode == "cubic" || mode == "bicubic") ? SampleMode::kCubic : SampleMode::kLinear;
                      std::string padding = node.attrs.getString("padding_mode", "zeros");
                      PaddingMode p = padding == "border" ? PaddingMode::kBorder : padding == "reflection" ? PaddingMode::kReflection : PaddingMode::kZeros;
                      return std::unique_ptr<Kernel>(std::make_unique<GridSampleKernel>(m, p, node.attrs.getInt("align_corners", 0) != 0));
                  },
                  ""});
    imagekernels::registerGeometryKernels(registry);
    imagekernels::registerImageDecoderKernel(registry);
}

}  // namespace kiln
