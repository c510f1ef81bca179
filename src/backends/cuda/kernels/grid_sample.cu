// GridSample (1-, 2- and 3-D; nearest, linear and cubic sampling; zeros, border and reflection padding;
// align_corners) and AffineGrid (2-D and 3-D), as the CPU kernels compute them (backends/cpu/kernels/
// image.cpp, image_geometry.cpp), which follow ONNX's reference: the grid's coordinates are denormalized
// in float32 (with explicitly rounded float operations, and the file is compiled without fused
// multiply-adds, so no contraction moves a nearest sample across a rounding boundary), out-of-range coordinates are clamped or reflected, and each tap
// reads its pixel through the padding mode; the weighted sum is in double. One thread per output
// element recomputes the taps of its grid point for its channel.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

constexpr int kMaxGridDims = 3;

enum class SampleMode : int { kNearest, kLinear, kCubic };
enum class PaddingMode : int { kZeros, kBorder, kReflection };

struct GridSamplePlan {
    SampleMode mode{SampleMode::kLinear};
    PaddingMode padding{PaddingMode::kZeros};
    bool alignCorners{false};
    int dims{2};
    int64_t spatial[kMaxGridDims]{};  // input spatial extents, outermost first
    int64_t channels{0};
    int64_t inPlane{0};
    int64_t outPlane{0};
    int64_t count{0};
};

/// Reflects x by the near border until it lies within [lo, hi].
__device__ double reflectInto(double x, double lo, double hi) {
    const double range = hi - lo;
    if (range <= 0) return lo;
    if (x < lo) {
        const double dx = lo - x;
        const int64_t n = static_cast<int64_t>(dx / range);
        const double r = dx - static_cast<double>(n) * range;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        const double dx = x - hi;
        const int64_t n = static_cast<int64_t>(dx / range);
        const double r = dx - static_cast<double>(n) * range;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

__device__ void cubicCoefficients(double t, double c[4]) {
    const double a = -0.75;
    c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
    c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    c[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
    c[3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
}

template <typename T, typename G>
__global__ void gridSampleKernel(const T* in, const G* grid, T* out, GridSamplePlan plan) {
    const int taps = plan.mode == SampleMode::kNearest ? 1 : plan.mode == SampleMode::kLinear ? 2 : 4;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        const int64_t p = i % plan.outPlane;
        const int64_t nc = i / plan.outPlane;
        const int64_t n = nc / plan.channels;
        int64_t first[kMaxGridDims];
        double weights[kMaxGridDims][4];
        for (int d = 0; d < plan.dims; ++d) {
            // grid[..., 0] is the innermost (last) spatial axis.
            const int axis = plan.dims - 1 - d;
            const int64_t extent = plan.spatial[axis];
            const double length = static_cast<double>(extent);
            const float g = static_cast<float>(load(grid[(n * plan.outPlane + p) * plan.dims + d]));
            const float g1 = __fadd_rn(g, 1.0f);
            const float v = plan.alignCorners
                                ? __fmul_rn(__fdiv_rn(g1, 2.0f), static_cast<float>(length - 1))
                                : __fdiv_rn(__fsub_rn(__fmul_rn(g1, static_cast<float>(length)), 1.0f), 2.0f);
            double c = v;
            if (plan.mode == SampleMode::kNearest) c = rint(c);
            const double lo = plan.alignCorners ? 0.0 : -0.5, hi = plan.alignCorners ? length - 1 : length - 0.5;
            if (c < lo || c > hi) {
                if (plan.padding == PaddingMode::kBorder) c = c < 0 ? 0.0 : (c > length - 1 ? length - 1 : c);
                else if (plan.padding == PaddingMode::kReflection) c = reflectInto(c, lo, hi);
            }
            double* w = weights[axis];
            if (plan.mode == SampleMode::kNearest) {
                first[axis] = static_cast<int64_t>(c);
                w[0] = 1;
            } else if (plan.mode == SampleMode::kLinear) {
                const double f = floor(c);
                first[axis] = static_cast<int64_t>(f);
                w[0] = 1 - (c - f);
                w[1] = c - f;
            } else {
                const double f = floor(c);
                first[axis] = static_cast<int64_t>(f) - 1;
                cubicCoefficients(c - f, w);
            }
        }
        int64_t combos = 1;
        for (int d = 0; d < plan.dims; ++d) combos *= taps;
        const T* image = in + nc * plan.inPlane;
        double sum = 0;
        for (int64_t k = 0; k < combos; ++k) {
            double w = 1;
            int64_t rest = k;
            for (int axis = plan.dims - 1; axis >= 0; --axis) {
                w *= weights[axis][rest % taps];
                rest /= taps;
            }
            if (w == 0) continue;
            int64_t index[kMaxGridDims];
            rest = k;
            for (int axis = plan.dims - 1; axis >= 0; --axis) {
                index[axis] = first[axis] + rest % taps;
                rest /= taps;
            }
            int64_t offset = 0;
            bool zero = false;
            for (int axis = 0; axis < plan.dims; ++axis) {
                const int64_t length = plan.spatial[axis];
                int64_t at = index[axis];
                if (at < 0 || at >= length) {
                    if (plan.padding == PaddingMode::kZeros) {
                        zero = true;
                        break;
                    }
                    if (plan.padding == PaddingMode::kReflection) {
                        const double lo = plan.alignCorners ? 0.0 : -0.5;
                        const double hi = plan.alignCorners ? double(length - 1) : double(length) - 0.5;
                        at = static_cast<int64_t>(reflectInto(static_cast<double>(at), lo, hi));
                    }
                    at = at < 0 ? 0 : (at > length - 1 ? length - 1 : at);
                }
                offset = offset * length + at;
            }
            if (!zero) sum += w * static_cast<double>(load(image[offset]));
        }
        // Floats of every width go through float, as the CPU kernel stores them.
        if constexpr (std::is_integral_v<T>)
            out[i] = static_cast<T>(rint(sum));
        else
            out[i] = store<T>(static_cast<float>(sum));
    }
}

using GridValueTypes = DeviceTypes<float, double, __half, __nv_bfloat16, int8_t, int16_t, int32_t, int64_t, uint8_t,
                                   uint16_t, uint32_t, uint64_t>;
using GridTypes = FloatTypes;

class GridSampleKernel : public Kernel {
public:
    GridSampleKernel(const Node& node, SampleMode mode, PaddingMode padding)
        : mName(node.describe()) {
        mPlan.mode = mode;
        mPlan.padding = padding;
        mPlan.alignCorners = node.attrs.getInt("align_corners", 0) != 0;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& grid = inputs[1].shape;
        if (x.size() < 3 || x.size() > 2 + kMaxGridDims)
            return unsupported(mName + ": the CUDA GridSample handles 1 to 3 spatial axes, X is " + shapeToString(x, true));
        const int dims = static_cast<int>(x.size()) - 2;
        if (grid.size() != x.size() || grid.back() != dims || grid[0] != x[0])
            return invalidArgument(mName + ": grid " + shapeToString(grid, true) + " does not fit X " + shapeToString(x, true));
        mPlan.dims = dims;
        for (int d = 0; d < dims; ++d) mPlan.spatial[d] = x[static_cast<size_t>(2 + d)];
        mPlan.channels = x[1];
        mPlan.inPlane = shapeElementCount(Shape(x.begin() + 2, x.end()));
        mPlan.outPlane = shapeElementCount(Shape(grid.begin() + 1, grid.end() - 1));
        mPlan.count = outputs[0].elementCount();
        if (mPlan.count != x[0] * x[1] * mPlan.outPlane)
            return invalidArgument(mName + ": output " + shapeToString(outputs[0].shape, true) + " does not fit the grid");
        mType = inputs[0].dtype;
        mGridType = inputs[1].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const Status noType = unsupported(mName + ": no CUDA GridSample for " + dataTypeName(mType) + " with a " +
                                          dataTypeName(mGridType) + " grid");
        return GridValueTypes::dispatchStatus(mType, noType, [&](auto tag) -> Status {
            using T = decltype(tag);
            return GridTypes::dispatchStatus(mGridType, noType, [&](auto gridTag) -> Status {
                using G = decltype(gridTag);
                gridSampleKernel<T, G><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                    static_cast<const T*>(io.input(0).data), static_cast<const G*>(io.input(1).data),
                    static_cast<T*>(io.output(0).data), mPlan);
                return launchStatus("gridSampleKernel");
            });
        });
    }

    std::string tacticName() const override { return "cuda.grid_sample"; }

private:
    std::string mName;
    GridSamplePlan mPlan;
    DataType mType{DataType::kFLOAT};
    DataType mGridType{DataType::kFLOAT};
};

bool gridSampleSupported(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    const Value* grid = node.input(1);
    if (!x || !grid) {
        if (reason) *reason = "GridSample needs X and grid";
        return false;
    }
    if (!GridValueTypes::contains(x->dtype) || !GridTypes::contains(grid->dtype)) {
        if (reason)
            *reason = std::string("no CUDA kernel for GridSample on ") + dataTypeName(x->dtype) + " with a " +
                      dataTypeName(grid->dtype) + " grid";
        return false;
    }
    if (x->shape.size() < 3 || x->shape.size() > 2 + kMaxGridDims) {
        if (reason) *reason = "the CUDA GridSample handles 1 to 3 spatial axes";
        return false;
    }
    const std::string mode = node.attrs.getString("mode", "linear");
    const std::string padding = node.attrs.getString("padding_mode", "zeros");
    if (mode != "nearest" && mode != "linear" && mode != "bilinear" && mode != "cubic" && mode != "bicubic") {
        if (reason) *reason = "GridSample mode '" + mode + "' is not nearest, linear or cubic";
        return false;
    }
    if (padding != "zeros" && padding != "border" && padding != "reflection") {
        if (reason) *reason = "GridSample padding_mode '" + padding + "' is not zeros, border or reflection";
        return false;
    }
    return true;
}

Expected<std::unique_ptr<Kernel>> createGridSample(const Node& node, const CudaContext&) {
    const std::string mode = node.attrs.getString("mode", "linear");
    const std::string padding = node.attrs.getString("padding_mode", "zeros");
    const SampleMode m = mode == "nearest"                       ? SampleMode::kNearest
                         : (mode == "cubic" || mode == "bicubic") ? SampleMode::kCubic
                                                                  : SampleMode::kLinear;
    const PaddingMode p = padding == "border"       ? PaddingMode::kBorder
                          : padding == "reflection" ? PaddingMode::kReflection
                                                    : PaddingMode::kZeros;
    return std::unique_ptr<Kernel>(std::make_unique<GridSampleKernel>(node, m, p));
}

// ---------------------------------------------------------------------------------------- AffineGrid

struct AffinePlan {
    bool alignCorners{false};
    int spatial{2};
    int64_t extents[3]{};  // output grid extents, outermost first
    int64_t points{0};     // per batch
    int64_t count{0};      // output elements
};

__device__ __forceinline__ double affineBase(int64_t i, int64_t length, bool alignCorners) {
    if (alignCorners) return length == 1 ? -1.0 : -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(length - 1);
    return -1.0 + (2.0 * static_cast<double>(i) + 1.0) / static_cast<double>(length);
}

template <typename T>
__global__ void affineGridKernel(const T* theta, T* out, AffinePlan plan) {
    const int s = plan.spatial;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        const int r = static_cast<int>(i % s);
        const int64_t np = i / s;
        const int64_t p = np % plan.points;
        const int64_t n = np / plan.points;
        // Homogeneous coordinate (x, y[, z], 1): x runs along the last axis.
        double h[4] = {1, 1, 1, 1};
        int64_t rest = p;
        for (int a = s - 1; a >= 0; --a) {
            h[s - 1 - a] = affineBase(rest % plan.extents[a], plan.extents[a], plan.alignCorners);
            rest /= plan.extents[a];
        }
        const T* row = theta + (n * s + r) * (s + 1);
        double v = 0;
        for (int c = 0; c <= s; ++c) v += static_cast<double>(load(row[c])) * h[c];
        if constexpr (std::is_same_v<T, double>)
            out[i] = v;
        else
            out[i] = store<T>(static_cast<float>(v));
    }
}

class AffineGridKernel : public Kernel {
public:
    explicit AffineGridKernel(const Node& node) : mName(node.describe()) {
        mPlan.alignCorners = node.attrs.getInt("align_corners", 0) != 0;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& theta = inputs[0].shape;
        const Shape& out = outputs[0].shape;
        if (out.size() != 4 && out.size() != 5)
            return invalidArgument(mName + ": the output " + shapeToString(out, true) + " is not a 2-D or 3-D grid");
        const int s = static_cast<int>(out.size()) - 2;
        if (theta.size() != 3 || theta[1] != s || theta[2] != s + 1 || out.back() != s)
            return invalidArgument(mName + ": theta " + shapeToString(theta, true) + " does not fit a " +
                                   std::to_string(s) + "-D grid");
        mPlan.spatial = s;
        for (int a = 0; a < s; ++a) mPlan.extents[a] = out[static_cast<size_t>(1 + a)];
        mPlan.points = shapeElementCount(Shape(out.begin() + 1, out.end() - 1));
        mPlan.count = shapeElementCount(out);
        mType = inputs[0].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        return FloatTypes::dispatchStatus(mType, unsupported(mName + ": no CUDA AffineGrid for " + dataTypeName(mType)),
                                          [&](auto tag) -> Status {
            using T = decltype(tag);
            affineGridKernel<T><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mPlan);
            return launchStatus("affineGridKernel");
        });
    }

    std::string tacticName() const override { return "cuda.affine_grid"; }

private:
    std::string mName;
    AffinePlan mPlan;
    DataType mType{DataType::kFLOAT};
};

}  // namespace

void registerGridSampleKernels(CudaKernelRegistry& registry) {
    registry.add({"GridSample", gridSampleSupported, createGridSample});
    registry.add({"AffineGrid",
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1, FloatTypes::types(), reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<AffineGridKernel>(node));
                  }});
}

}  // namespace kiln::cuda
