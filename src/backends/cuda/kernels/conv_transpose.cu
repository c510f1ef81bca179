// ConvTranspose with 1 to 3 spatial axes on float, float16, bfloat16 and double, every attribute ONNX
// lists (strides, dilations, pads, auto_pad, output_padding, output_shape, group): the window geometry is
// ir/ops/conv_window.h's transposeWindow, the one the CPU kernel and shape inference use.
//
// A direct gather kernel: one thread per output element sums, over its group's input channels and the
// kernel taps, the inputs whose scattered window covers it (input i reaches output o through tap k when
// o + padBegin = i * stride + k * dilation). Products are accumulated in float (double for double), so
// nothing is staged and there is no workspace. Fewer spatial axes are run as 3-D with unit leading axes.

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

using ConvTransposeTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;

struct TransposeGeometry {
    int64_t batch{0};
    int64_t inPerGroup{0};
    int64_t outPerGroup{0};
    int64_t groups{1};
    int64_t in[3]{1, 1, 1};
    int64_t out[3]{1, 1, 1};
    int64_t kernel[3]{1, 1, 1};
    int64_t stride[3]{1, 1, 1};
    int64_t dilation[3]{1, 1, 1};
    int64_t padBegin[3]{0, 0, 0};
    int64_t count{0};
};

template <typename T>
__global__ void convTransposeKernel(const T* x, const T* w, const T* bias, T* y, TransposeGeometry g) {
    using F = Compute<T>;
    const int64_t outChannels = g.outPerGroup * g.groups;
    const int64_t inPlane = g.in[0] * g.in[1] * g.in[2];
    const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < g.count; index += step) {
        int64_t rest = index;
        int64_t o[3];
        for (int d = 2; d >= 0; --d) {
            o[d] = rest % g.out[d];
            rest /= g.out[d];
        }
        const int64_t oc = rest % outChannels;
        const int64_t n = rest / outChannels;
        const int64_t group = oc / g.outPerGroup;
        const int64_t ocInGroup = oc % g.outPerGroup;
        F acc = bias ? load(bias[oc]) : F(0);
        for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
            const int64_t t0 = o[0] + g.padBegin[0] - k0 * g.dilation[0];
            if (t0 < 0 || t0 % g.stride[0] != 0 || t0 / g.stride[0] >= g.in[0]) continue;
            for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
                const int64_t t1 = o[1] + g.padBegin[1] - k1 * g.dilation[1];
                if (t1 < 0 || t1 % g.stride[1] != 0 || t1 / g.stride[1] >= g.in[1]) continue;
                for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                    const int64_t t2 = o[2] + g.padBegin[2] - k2 * g.dilation[2];
                    if (t2 < 0 || t2 % g.stride[2] != 0 || t2 / g.stride[2] >= g.in[2]) continue;
                    const int64_t position =
                        ((t0 / g.stride[0]) * g.in[1] + t1 / g.stride[1]) * g.in[2] + t2 / g.stride[2];
                    const int64_t tap = (k0 * g.kernel[1] + k1) * g.kernel[2] + k2;
                    for (int64_t c = 0; c < g.inPerGroup; ++c) {
                        const int64_t ic = group * g.inPerGroup + c;
                        // W is [C_in, C_out / group, k...]
                        acc += load(x[(n * g.inPerGroup * g.groups + ic) * inPlane + position]) *
                               load(w[(ic * g.outPerGroup + ocInGroup) * taps + tap]);
                    }
                }
            }
        }
        y[index] = store<T>(acc);
    }
}

class ConvTransposeKernel : public Kernel {
public:
    ConvTransposeKernel(const Node& node, int64_t group)
        : mType(node.input(0)->dtype),
          mAttrs(node.attrs),
          mGroup(group),
          mHasBias(node.hasInput(2)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& w = inputs[1].shape;
        const Shape& y = outputs[0].shape;
        if (w.size() != x.size() || y.size() != x.size() || x.size() < 3 || x.size() > 5)
            return invalidArgument(mName + ": X " + shapeToString(x, true) + ", W " + shapeToString(w, true) +
                                   " and Y " + shapeToString(y, true) + " must share one rank of 3 to 5");
        if (x[1] != w[0] || x[1] % mGroup != 0)
            return invalidArgument(mName + ": X " + shapeToString(x, true) + " does not match W " +
                                   shapeToString(w, true) + " with group " + std::to_string(mGroup));
        const Shape kernel(w.begin() + 2, w.end());
        const size_t spatial = x.size() - 2;
        // The window is read against W's extents (kernel_shape, when given, must agree with them).
        auto spec = parseWindowSpec(mAttrs, spatial, kernel, WindowKind::kConvolution);
        if (!spec) return invalidArgument(mName + ": " + spec.status().message());
        auto transpose = parseTransposeSpec(mAttrs, *spec);
        if (!transpose) return invalidArgument(mName + ": " + transpose.status().message());
        const size_t lead = 3 - spatial;  // unit axes in front of the real ones
        mGeometry = TransposeGeometry{};
        mGeometry.batch = x[0];
        mGeometry.groups = mGroup;
        mGeometry.inPerGroup = x[1] / mGroup;
        mGeometry.outPerGroup = w[1];
        if (y[0] != x[0] || y[1] != w[1] * mGroup)
            return invalidArgument(mName + ": output " + shapeToString(y, true) + " does not hold " +
                                   std::to_string(w[1] * mGroup) + " channels per image");
        for (size_t i = 0; i < spatial; ++i) {
            const AxisWindow window = transposeWindow(*spec, *transpose, i, x[2 + i]);
            if (window.output != y[2 + i])
                return invalidArgument(mName + ": output extent " + std::to_string(y[2 + i]) + " on spatial axis " +
                                       std::to_string(i) + " is not the window's " + std::to_string(window.output));
            mGeometry.in[lead + i] = x[2 + i];
            mGeometry.out[lead + i] = y[2 + i];
            mGeometry.kernel[lead + i] = kernel[i];
            mGeometry.stride[lead + i] = spec->strides[i];
            mGeometry.dilation[lead + i] = spec->dilations[i];
            mGeometry.padBegin[lead + i] = window.padBegin;
        }
        if (mHasBias && inputs[2].elementCount() != y[1])
            return invalidArgument(mName + ": bias " + shapeToString(inputs[2].shape, true) +
                                   " does not hold one value per output channel (" + std::to_string(y[1]) + ")");
        mGeometry.count = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mGeometry.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        ConvTransposeTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            convTransposeKernel<T><<<elementwiseGrid(mGeometry.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<const T*>(io.input(1).data),
                mHasBias ? static_cast<const T*>(io.input(2).data) : nullptr, static_cast<T*>(io.output(0).data),
                mGeometry);
        });
        return launchStatus("convTransposeKernel");
    }

    std::string tacticName() const override {
        return std::string("cuda.conv_transpose_direct_") + tacticTypeSuffix(mType);
    }

private:
    DataType mType;
    AttributeMap mAttrs;
    int64_t mGroup;
    bool mHasBias;
    std::string mName;
    TransposeGeometry mGeometry;
};

bool convTransposeSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 3, ConvTransposeTypes::types(), reason)) return false;
    if (!node.input(1)) {
        if (reason) *reason = "the weights W are missing";
        return false;
    }
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank > 5) {
        if (reason)
            *reason = "the CUDA ConvTranspose handles 1 to 3 spatial axes (3-D to 5-D X); X has rank " +
                      std::to_string(rank);
        return false;
    }
    return true;
}

Expected<std::unique_ptr<Kernel>> createConvTranspose(const Node& node, const CudaContext&) {
    const int64_t group = node.attrs.getInt("group", 1);
    if (group < 1) return invalidModel(node.describe() + ": attribute group must be >= 1");
    return std::unique_ptr<Kernel>(std::make_unique<ConvTransposeKernel>(node, group));
}

}  // namespace

void registerConvTransposeKernels(CudaKernelRegistry& registry) {
    registry.add({"ConvTranspose", convTransposeSupported, createConvTranspose});
}

}  // namespace kiln::cuda
