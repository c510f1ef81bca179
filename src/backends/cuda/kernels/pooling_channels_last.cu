// kiln::ChannelsLastPool: MaxPool or AveragePool over NHWC (ir/ops/layout_attributes.h), on float,
// float16, bfloat16 (accumulated in float) and double. One thread per vector of channels of an output
// pixel (up to 16 bytes, where the channel count and the addresses allow), channels innermost in the
// thread index, so the threads of a warp read consecutive channels of one pixel (coalesced) at every
// tap. Pads, strides, dilations, ceil_mode, auto_pad and count_include_pad follow the NCHW kernel
// (pooling.cu), through ir/ops/conv_window.h as shape inference reads them.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/channel_pack.cuh"
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

// One thread per V consecutive channels of an output pixel, channels innermost in the thread index, so
// a warp reads consecutive 16-byte vectors of one pixel at every tap. Index is int32_t where every
// offset fits (integer division is the kernel's main cost besides memory, and 64-bit division is several
// times dearer). Max keeps the first of equal maxima (NaN never replaces a value), as the NCHW kernel;
// average divides by the taps inside the input, or with count_include_pad by the taps inside the padded
// input (not the end padding ceil_mode may add beyond it).
template <typename T, bool kMax, int V, typename Index>
__global__ void channelsLastPoolKernel(const T* in, T* out, Window2d w, bool countIncludePad) {
    using C = Compute<T>;
    using Pack = ChannelPack<T, V>;
    const Index packs = static_cast<Index>(w.channels / V);  // per pixel
    const Index inH = static_cast<Index>(w.in[0]), inW = static_cast<Index>(w.in[1]);
    const Index outH = static_cast<Index>(w.out[0]), outW = static_cast<Index>(w.out[1]);
    const Index count = static_cast<Index>(w.batch) * outH * outW * packs;
    const Index step = static_cast<Index>(gridDim.x) * blockDim.x;
    for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const Index p = i % packs;
        Index rest = i / packs;
        const Index ox = rest % outW;
        rest /= outW;
        const Index oy = rest % outH;
        const Index n = rest / outH;
        const Index startY = oy * static_cast<Index>(w.stride[0]) - static_cast<Index>(w.padBegin[0]);
        const Index startX = ox * static_cast<Index>(w.stride[1]) - static_cast<Index>(w.padBegin[1]);
        const Pack* image = reinterpret_cast<const Pack*>(in) + n * inH * inW * packs + p;
        C best[V], sum[V];
        for (int l = 0; l < V; ++l) best[l] = sum[l] = C(0);
        bool found = false;
        Index taps = 0;
        for (Index ky = 0; ky < static_cast<Index>(w.kernel[0]); ++ky) {
            const Index y = startY + ky * static_cast<Index>(w.dilation[0]);
            if (y < 0 || y >= inH) continue;
            for (Index kx = 0; kx < static_cast<Index>(w.kernel[1]); ++kx) {
                const Index x = startX + kx * static_cast<Index>(w.dilation[1]);
                if (x < 0 || x >= inW) continue;
                const Pack tap = image[(y * inW + x) * packs];
                for (int l = 0; l < V; ++l) {
                    const C v = load(tap.lane[l]);
                    if constexpr (kMax) {
                        if (!found || v > best[l]) best[l] = v;
                    } else {
                        sum[l] += v;
                    }
                }
                found = true;
                ++taps;
            }
        }
        Pack result;
        if constexpr (kMax) {
            for (int l = 0; l < V; ++l) result.lane[l] = store<T>(found ? best[l] : C(-INFINITY));
        } else {
            Index divisor = taps;
            if (countIncludePad) {
                const Index start[2] = {startY, startX};
                divisor = 1;
                for (int d = 0; d < 2; ++d) {
                    const Index dilation = static_cast<Index>(w.dilation[d]);
                    const Index end = min(start[d] + static_cast<Index>((w.kernel[d] - 1) * w.dilation[d]) + 1,
                                          static_cast<Index>(w.in[d] + w.padEnd[d]));
                    divisor *= end > start[d] ? (end - start[d] + dilation - 1) / dilation : 0;
                }
            }
            for (int l = 0; l < V; ++l) result.lane[l] = store<T>(sum[l] / static_cast<C>(divisor));
        }
        reinterpret_cast<Pack*>(out)[i] = result;
    }
}

template <typename T, bool kMax, int V>
void launchPool(const T* in, T* out, const Window2d& w, bool countIncludePad, int64_t count, bool wideIndex,
                cudaStream_t stream) {
    const unsigned grid = elementwiseGrid(count / V);
    if (wideIndex)
        channelsLastPoolKernel<T, kMax, V, int64_t><<<grid, kElementwiseBlock, 0, stream>>>(in, out, w, countIncludePad);
    else
        channelsLastPoolKernel<T, kMax, V, int32_t><<<grid, kElementwiseBlock, 0, stream>>>(in, out, w, countIncludePad);
}

/// Instantiates only the widths that fit 16 bytes of T.
template <typename T, bool kMax>
void launchPoolOfWidth(int width, const T* in, T* out, const Window2d& w, bool countIncludePad, int64_t count,
                       bool wideIndex, cudaStream_t stream) {
    constexpr int kWidest = kWidestPack<T>;
    if constexpr (kWidest >= 8) {
        if (width == 8) return launchPool<T, kMax, 8>(in, out, w, countIncludePad, count, wideIndex, stream);
    }
    if constexpr (kWidest >= 4) {
        if (width == 4) return launchPool<T, kMax, 4>(in, out, w, countIncludePad, count, wideIndex, stream);
    }
    if (width == 2) return launchPool<T, kMax, 2>(in, out, w, countIncludePad, count, wideIndex, stream);
    launchPool<T, kMax, 1>(in, out, w, countIncludePad, count, wideIndex, stream);
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
        // int32 offsets reach every element of both tensors (a stride-1 window with padding reads
        // beyond neither), with room for the grid-stride step past the end.
        const int64_t limit = std::numeric_limits<int32_t>::max() / 2;
        mWideIndex = x.elementCount() > limit || mCount > limit;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const bool launched = ChannelsLastPoolTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            const T* in = static_cast<const T*>(io.input(0).data);
            T* out = static_cast<T*>(io.output(0).data);
            const int width = widestPack(mWindow.channels, sizeof(T), {in, out});
            if (mMax)
                launchPoolOfWidth<T, true>(width, in, out, mWindow, false, mCount, mWideIndex, stream);
            else
                launchPoolOfWidth<T, false>(width, in, out, mWindow, mCountIncludePad, mCount, mWideIndex, stream);
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
    bool mWideIndex{false};
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
