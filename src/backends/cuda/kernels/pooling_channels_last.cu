// kiln::ChannelsLastPool: MaxPool or AveragePool over NHWC (ir/ops/layout_attributes.h), on float,
// float16, bfloat16 (accumulated in float) and double. One thread per output element with the channel
// innermost in the thread index, so the threads of a warp read consecutive channels of one pixel
// (coalesced) at every tap. Pads, strides, dilations, ceil_mode, auto_pad and count_include_pad follow
// the NCHW kernel (pooling.cu), through ir/ops/conv_window.h as shape inference reads them.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/conv_window.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cuda {

namespace {

using ChannelsLastPoolTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;

/// The 2-D window over H and W of an NHWC tensor.
struct Window2d {
    int64_t batch, channels;
    int64_t in[2], out[2], kernel[2], stride[2], dilation[2], padBegin[2], padEnd[2];
};

// Max keeps the first of equal maxima (NaN never replaces a value), as the NCHW kernel; average divides
// by the taps inside the input, or with count_include_pad by the taps inside the padded input (not the
// end padding ceil_mode may add beyond it).
template <typename T, bool kMax>
__global__ void channelsLastPoolKernel(const T* in, T* out, Window2d w, bool countIncludePad) {
    using C = Compute<T>;
    const int64_t count = w.batch * w.out[0] * w.out[1] * w.channels;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const int64_t c = i % w.channels;
        int64_t rest = i / w.channels;
        const int64_t ox = rest % w.out[1];
        rest /= w.out[1];
        const int64_t oy = rest % w.out[0];
        const int64_t n = rest / w.out[0];
        const int64_t startY = oy * w.stride[0] - w.padBegin[0];
        const int64_t startX = ox * w.stride[1] - w.padBegin[1];
        const T* image = in + n * w.in[0] * w.in[1] * w.channels + c;
        C best = C(0);
        bool found = false;
        C sum = C(0);
        int64_t taps = 0;
        for (int64_t ky = 0; ky < w.kernel[0]; ++ky) {
            const int64_t y = startY + ky * w.dilation[0];
            if (y < 0 || y >= w.in[0]) continue;
            for (int64_t kx = 0; kx < w.kernel[1]; ++kx) {
                const int64_t x = startX + kx * w.dilation[1];
                if (x < 0 || x >= w.in[1]) continue;
                const C v = load(image[(y * w.in[1] + x) * w.channels]);
                if constexpr (kMax) {
                    if (!found || v > best) best = v;
                    found = true;
                } else {
                    sum += v;
                }
                ++taps;
            }
        }
        if constexpr (kMax) {
            out[i] = store<T>(found ? best : C(-INFINITY));
        } else {
            int64_t divisor = taps;
            if (countIncludePad) {
                const int64_t start[2] = {startY, startX};
                divisor = 1;
                for (int d = 0; d < 2; ++d) {
                    const int64_t end = min(start[d] + (w.kernel[d] - 1) * w.dilation[d] + 1, w.in[d] + w.padEnd[d]);
                    divisor *= end > start[d] ? (end - start[d] + w.dilation[d] - 1) / w.dilation[d] : 0;
                }
            }
            out[i] = store<T>(sum / static_cast<C>(divisor));
        }
    }
}

class ChannelsLastPoolKernel : public Kernel {
public:
    explicit ChannelsLastPoolKernel(const Node& node)
        : mAttrs(node.attrs),
          mMax(node.attrs.getString(kChannelsLastPoolAttribute, "") == "MaxPool"),
          mType(node.input(0)->dtype),
          mCountIncludePad(node.attrs.getInt("count_include_pad", 0) != 0),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const TensorView& x = inputs[0];
        const TensorView& y = outputs[0];
        if (x.rank() != 4 || y.rank() != 4 || x.shape[0] != y.shape[0] || x.shape[3] != y.shape[3])
            return invalidArgument(mName + ": expected X [N, H, W, C] and Y [N, OH, OW, C], got " +
                                   shapeToString(x.shape, true) + " and " + shapeToString(y.shape, true));
        KILN_ASSIGN_OR_RETURN(WindowSpec spec, parseWindowSpec(mAttrs, 2, std::nullopt, WindowKind::kPooling));
        mWindow.batch = x.shape[0];
        mWindow.channels = x.shape[3];
        for (size_t a = 0; a < 2; ++a) {
            const AxisWindow window = forwardWindow(spec, a, x.shape[1 + a]);
            if (window.output != y.shape[1 + a])
                return invalidArgument(mName + ": output " + shapeToString(y.shape, true) + " does not match the window");
            mWindow.in[a] = x.shape[1 + a];
            mWindow.out[a] = window.output;
            mWindow.kernel[a] = spec.kernel[a];
            mWindow.stride[a] = spec.strides[a];
            mWindow.dilation[a] = spec.dilations[a];
            mWindow.padBegin[a] = window.padBegin;
            mWindow.padEnd[a] = window.padEnd;
        }
        mCount = y.elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const unsigned grid = elementwiseGrid(mCount);
        const bool launched = ChannelsLastPoolTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            const T* in = static_cast<const T*>(io.input(0).data);
            T* out = static_cast<T*>(io.output(0).data);
            if (mMax)
                channelsLastPoolKernel<T, true><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mWindow, false);
            else
                channelsLastPoolKernel<T, false><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mWindow,
                                                                                         mCountIncludePad);
        });
        if (!launched) return unsupported(mName + ": no CUDA channels-last pooling on " + dataTypeName(mType));
        return launchStatus("channelsLastPoolKernel");
    }

    std::string tacticName() const override {
        return std::string(mMax ? "cuda.maxpool_nhwc_" : "cuda.avgpool_nhwc_") + tacticTypeSuffix(mType);
    }

private:
    AttributeMap mAttrs;
    bool mMax;
    DataType mType;
    bool mCountIncludePad;
    std::string mName;
    Window2d mWindow{};
    int64_t mCount{0};
};

bool channelsLastPoolSupported(const Node& node, std::string* reason) {
    const std::string pool = node.attrs.getString(kChannelsLastPoolAttribute, "");
    if (pool != "MaxPool" && pool != "AveragePool") {
        if (reason) *reason = std::string("attribute ") + kChannelsLastPoolAttribute + " must be MaxPool or AveragePool";
        return false;
    }
    if (!inputsHaveType(node, 0, 1, ChannelsLastPoolTypes::types(), reason)) return false;
    if (node.input(0)->shape.size() != 4) {
        if (reason) *reason = "the channels-last pooling takes a rank-4 X [N, H, W, C]";
        return false;
    }
    auto spec = parseWindowSpec(node.attrs, 2, std::nullopt, WindowKind::kPooling);
    if (!spec) {
        if (reason) *reason = spec.status().message();
        return false;
    }
    return true;
}

}  // namespace

void registerChannelsLastPoolKernels(CudaKernelRegistry& registry) {
    registry.add({"kiln::ChannelsLastPool", channelsLastPoolSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<ChannelsLastPoolKernel>(node));
                  }});
}

}  // namespace kiln::cuda
