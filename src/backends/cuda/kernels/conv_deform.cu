// DeformConv with 1 to 3 spatial axes on float, float16, bfloat16 and double, the CPU backend's
// semantics (backends/cpu/kernels/conv_deform.cpp; ONNX's reference and torchvision's deform_conv2d):
// each kernel tap of each output position samples its input channel at the tap's regular position plus
// a learned fractional offset (shared by the channels of one offset group), by multilinear interpolation
// in which every corner outside the input reads zero, scaled by the mask when there is one.
//
// A direct kernel: one thread per output element sums over its group's input channels and the taps,
// sampling as it goes (a sample is recomputed for each output channel of the group: simple, no
// workspace). Coordinates, samples and sums are in double, as on the CPU; the result is rounded once.

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/conv_window.h"

namespace kiln::cuda {

namespace {

using DeformTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;

constexpr int kMaxDeformRank = 3;

struct DeformGeometry {
    int rank{0};
    int64_t input[kMaxDeformRank]{};
    int64_t output[kMaxDeformRank]{};
    int64_t kernel[kMaxDeformRank]{};
    int64_t stride[kMaxDeformRank]{};
    int64_t dilation[kMaxDeformRank]{};
    int64_t padBegin[kMaxDeformRank]{};
    int64_t channels{0}, outChannels{0}, groups{1}, offsetGroups{1};
    int64_t taps{1}, positions{1}, inputPlane{1};
    int64_t count{0};
};

template <typename T>
__device__ double sampleLinear(const T* plane, const DeformGeometry& g, const double* coord) {
    int64_t low[kMaxDeformRank];
    double frac[kMaxDeformRank];
    for (int d = 0; d < g.rank; ++d) {
        const double f = floor(coord[d]);
        low[d] = static_cast<int64_t>(f);
        frac[d] = coord[d] - f;
    }
    double value = 0;
    for (unsigned corner = 0; corner < (1u << g.rank); ++corner) {
        double weight = 1;
        int64_t offset = 0;
        bool inside = true;
        for (int d = 0; d < g.rank && inside; ++d) {
            const bool high = (corner >> d) & 1u;
            const int64_t index = low[d] + (high ? 1 : 0);
            inside = index >= 0 && index < g.input[d];
            weight *= high ? frac[d] : 1 - frac[d];
            offset = offset * g.input[d] + index;
        }
        if (inside && weight != 0) value += weight * static_cast<double>(load(plane[offset]));
    }
    return value;
}

template <typename T>
__global__ void deformConvKernel(const T* x, const T* w, const T* offset, const T* bias, const T* mask, T* y,
                                 DeformGeometry g) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t inPerGroup = g.channels / g.groups;
    const int64_t outPerGroup = g.outChannels / g.groups;
    const int64_t perOffsetGroup = g.channels / g.offsetGroups;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < g.count; index += step) {
        const int64_t p = index % g.positions;
        const int64_t oc = (index / g.positions) % g.outChannels;
        const int64_t b = index / (g.positions * g.outChannels);
        int64_t outCoord[kMaxDeformRank];
        int64_t rest = p;
        for (int d = g.rank - 1; d >= 0; --d) {
            outCoord[d] = rest % g.output[d];
            rest /= g.output[d];
        }
        const int64_t group = oc / outPerGroup;
        double acc = bias ? static_cast<double>(load(bias[oc])) : 0.0;
        for (int64_t tap = 0; tap < g.taps; ++tap) {
            int64_t tapIndex[kMaxDeformRank];
            int64_t t = tap;
            for (int d = g.rank - 1; d >= 0; --d) {
                tapIndex[d] = t % g.kernel[d];
                t /= g.kernel[d];
            }
            for (int64_t cl = 0; cl < inPerGroup; ++cl) {
                const int64_t c = group * inPerGroup + cl;
                const int64_t og = c / perOffsetGroup;
                // offset viewed as (N, offset_group, taps, rank, positions); mask as (N, offset_group, taps, positions).
                const int64_t tapRow = (b * g.offsetGroups + og) * g.taps + tap;
                double coord[kMaxDeformRank];
                for (int d = 0; d < g.rank; ++d)
                    coord[d] = static_cast<double>(outCoord[d] * g.stride[d] - g.padBegin[d] + tapIndex[d] * g.dilation[d]) +
                               static_cast<double>(load(offset[(tapRow * g.rank + d) * g.positions + p]));
                double value = sampleLinear(x + (b * g.channels + c) * g.inputPlane, g, coord);
                if (mask) value *= static_cast<double>(load(mask[tapRow * g.positions + p]));
                acc += value * static_cast<double>(load(w[(oc * inPerGroup + cl) * g.taps + tap]));
            }
        }
        y[index] = store<T>(acc);
    }
}

class DeformConvKernel : public Kernel {
public:
    explicit DeformConvKernel(const Node& node)
        : mType(node.input(0)->dtype),
          mAttrs(node.attrs),
          mGroup(node.attrs.getInt("group", 1)),
          mOffsetGroup(node.attrs.getInt("offset_group", 1)),
          mHasBias(node.hasInput(3)),
          mHasMask(node.hasInput(4)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        const Shape& x = in[0].shape;
        const Shape& w = in[1].shape;
        if (x.size() < 3 || x.size() > 2 + kMaxDeformRank || w.size() != x.size())
            return invalidArgument(mName + ": X " + shapeToString(x, true) + " and W " + shapeToString(w, true) +
                                   " must share one rank of 3 to 5");
        const size_t n = x.size() - 2;
        auto spec = parseWindowSpec(mAttrs, n, Shape(w.begin() + 2, w.end()), WindowKind::kConvolution);
        if (!spec) return invalidArgument(mName + ": " + spec.status().message());
        DeformGeometry g;
        g.rank = static_cast<int>(n);
        g.channels = x[1];
        g.outChannels = w[0];
        g.groups = mGroup;
        g.offsetGroups = mOffsetGroup;
        g.taps = shapeElementCount(spec->kernel);
        Shape outSpatial;
        for (size_t d = 0; d < n; ++d) {
            const AxisWindow window = forwardWindow(*spec, d, x[2 + d]);
            g.input[d] = x[2 + d];
            g.output[d] = window.output;
            g.kernel[d] = spec->kernel[d];
            g.stride[d] = spec->strides[d];
            g.dilation[d] = spec->dilations[d];
            g.padBegin[d] = window.padBegin;
            outSpatial.push_back(window.output);
        }
        g.inputPlane = shapeElementCount(Shape(x.begin() + 2, x.end()));
        g.positions = shapeElementCount(outSpatial);
        if (mGroup < 1 || mOffsetGroup < 1 || g.channels % mGroup != 0 || g.channels % mOffsetGroup != 0 ||
            g.outChannels % mGroup != 0 || w[1] * mGroup != g.channels)
            return invalidArgument(mName + ": the channels of X " + shapeToString(x, true) + " and W " +
                                   shapeToString(w, true) + " do not fit group " + std::to_string(mGroup) +
                                   " and offset_group " + std::to_string(mOffsetGroup));
        Shape offset{x[0], mOffsetGroup * g.taps * static_cast<int64_t>(n)};
        offset.insert(offset.end(), outSpatial.begin(), outSpatial.end());
        if (in[2].shape != offset)
            return invalidArgument(mName + ": offset is " + shapeToString(in[2].shape, true) + "; expected " +
                                   shapeToString(offset, true));
        if (mHasBias && in[3].elementCount() != g.outChannels)
            return invalidArgument(mName + ": bias " + shapeToString(in[3].shape, true) +
                                   " does not hold one value per output channel");
        if (mHasMask) {
            Shape mask = offset;
            mask[1] = mOffsetGroup * g.taps;
            if (in[4].shape != mask)
                return invalidArgument(mName + ": mask is " + shapeToString(in[4].shape, true) + "; expected " +
                                       shapeToString(mask, true));
        }
        Shape y{x[0], g.outChannels};
        y.insert(y.end(), outSpatial.begin(), outSpatial.end());
        if (out[0].shape != y)
            return invalidArgument(mName + ": the output is " + shapeToString(out[0].shape, true) + "; expected " +
                                   shapeToString(y, true));
        g.count = out[0].elementCount();
        mGeometry = g;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mGeometry.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        DeformTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            deformConvKernel<T><<<elementwiseGrid(mGeometry.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<const T*>(io.input(1).data),
                static_cast<const T*>(io.input(2).data), mHasBias ? static_cast<const T*>(io.input(3).data) : nullptr,
                mHasMask ? static_cast<const T*>(io.input(4).data) : nullptr, static_cast<T*>(io.output(0).data),
                mGeometry);
        });
        return launchStatus("deformConvKernel");
    }

    std::string tacticName() const override { return std::string("cuda.deform_conv_direct_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    AttributeMap mAttrs;
    int64_t mGroup, mOffsetGroup;
    bool mHasBias, mHasMask;
    std::string mName;
    DeformGeometry mGeometry;
};

bool deformConvSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 5, DeformTypes::types(), reason)) return false;
    if (!node.input(1) || !node.input(2)) {
        if (reason) *reason = "DeformConv needs its weights W and offset inputs";
        return false;
    }
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank > 2 + kMaxDeformRank) {
        if (reason)
            *reason = "the CUDA DeformConv handles 1 to 3 spatial axes (3-D to 5-D X); X has rank " + std::to_string(rank);
        return false;
    }
    return true;
}

}  // namespace

void registerDeformConvKernels(CudaKernelRegistry& registry) {
    registry.add({"DeformConv", deformConvSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<DeformConvKernel>(node));
                  }});
}

}  // namespace kiln::cuda
