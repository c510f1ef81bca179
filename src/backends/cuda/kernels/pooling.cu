// Pooling on float NCHW tensors: MaxPool and AveragePool over 2-D windows (pads, strides, dilations,
// ceil_mode and auto_pad through ir/ops/conv_window.h, as shape inference reads them), one thread per
// output element; GlobalAveragePool and GlobalMaxPool, one warp per (n, c) plane.

#include <cfloat>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/conv_window.h"

namespace kiln::cuda {

namespace {

struct Window2d {
    int64_t inH, inW, outH, outW;
    int64_t kernelH, kernelW, strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight;
};

template <bool kMax>
__global__ void pool2dKernel(const float* in, float* out, int64_t planes, Window2d w, bool countIncludePad) {
    const int64_t count = planes * w.outH * w.outW;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const int64_t ox = i % w.outW;
        const int64_t oy = (i / w.outW) % w.outH;
        const int64_t plane = i / (w.outW * w.outH);
        const float* x = in + plane * w.inH * w.inW;
        const int64_t y0 = oy * w.strideH - w.padTop;
        const int64_t x0 = ox * w.strideW - w.padLeft;
        float acc = kMax ? -FLT_MAX : 0.f;
        bool any = false;
        int64_t taps = 0;
        for (int64_t ky = 0; ky < w.kernelH; ++ky) {
            const int64_t yy = y0 + ky * w.dilationH;
            if (yy < 0 || yy >= w.inH) continue;
            for (int64_t kx = 0; kx < w.kernelW; ++kx) {
                const int64_t xx = x0 + kx * w.dilationW;
                if (xx < 0 || xx >= w.inW) continue;
                const float v = x[yy * w.inW + xx];
                if constexpr (kMax) acc = any ? fmaxf(acc, v) : v;
                else acc += v;
                any = true;
                ++taps;
            }
        }
        if constexpr (kMax) {
            out[i] = any ? acc : -FLT_MAX;
        } else {
            // count_include_pad counts the window's taps inside the padded input (not beyond the end
            // padding that ceil_mode may add), as ONNX Runtime does.
            int64_t divisor = taps;
            if (countIncludePad) {
                const int64_t yEnd = min(y0 + (w.kernelH - 1) * w.dilationH + 1, w.inH + w.padBottom);
                const int64_t xEnd = min(x0 + (w.kernelW - 1) * w.dilationW + 1, w.inW + w.padRight);
                const int64_t rows = (yEnd - y0 + w.dilationH - 1) / w.dilationH;
                const int64_t cols = (xEnd - x0 + w.dilationW - 1) / w.dilationW;
                divisor = rows * cols;
            }
            out[i] = divisor > 0 ? acc / static_cast<float>(divisor) : 0.f;
        }
    }
}

class Pool2dKernel : public Kernel {
public:
    Pool2dKernel(const Node& node, bool isMax)
        : mAttrs(node.attrs),
          mIsMax(isMax),
          mCountIncludePad(node.attrs.getInt("count_include_pad", 0) != 0),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const TensorView& x = inputs[0];
        const TensorView& y = outputs[0];
        if (x.rank() != 4 || y.rank() != 4) return unsupported(mName + ": the CUDA pooling takes 4-D NCHW tensors");
        KILN_ASSIGN_OR_RETURN(WindowSpec spec, parseWindowSpec(mAttrs, 2, std::nullopt, WindowKind::kPooling));
        AxisWindow h = forwardWindow(spec, 0, x.shape[2]);
        AxisWindow w = forwardWindow(spec, 1, x.shape[3]);
        if (h.output != y.shape[2] || w.output != y.shape[3])
            return invalidArgument(mName + ": output " + shapeToString(y.shape, true) + " does not match the window");
        mWindow = {x.shape[2], x.shape[3], y.shape[2], y.shape[3], spec.kernel[0], spec.kernel[1],
                   spec.strides[0], spec.strides[1], spec.dilations[0], spec.dilations[1], h.padBegin, w.padBegin,
                   h.padEnd, w.padEnd};
        mPlanes = x.shape[0] * x.shape[1];
        mCount = y.elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const float* in = static_cast<const float*>(io.input(0).data);
        float* out = static_cast<float*>(io.output(0).data);
        if (mIsMax)
            pool2dKernel<true><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(in, out, mPlanes, mWindow, false);
        else
            pool2dKernel<false><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(in, out, mPlanes, mWindow,
                                                                                             mCountIncludePad);
        return launchStatus("pool2dKernel");
    }

    std::string tacticName() const override { return mIsMax ? "cuda.maxpool2d_f32" : "cuda.avgpool2d_f32"; }

private:
    AttributeMap mAttrs;
    bool mIsMax;
    bool mCountIncludePad;
    std::string mName;
    Window2d mWindow{};
    int64_t mPlanes{0};
    int64_t mCount{0};
};

// One warp per plane: planes are small (7x7 in ResNet-50) and many.
template <bool kMax>
__global__ void globalPoolKernel(const float* in, float* out, int64_t planes, int64_t planeSize) {
    const int64_t warpsPerBlock = blockDim.x / 32;
    const int64_t plane = static_cast<int64_t>(blockIdx.x) * warpsPerBlock + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (plane >= planes) return;
    const float* x = in + plane * planeSize;
    float acc = kMax ? -FLT_MAX : 0.f;
    for (int64_t i = lane; i < planeSize; i += 32) acc = kMax ? fmaxf(acc, x[i]) : acc + x[i];
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float other = __shfl_xor_sync(0xffffffffu, acc, offset);
        acc = kMax ? fmaxf(acc, other) : acc + other;
    }
    if (lane == 0) out[plane] = kMax ? acc : acc / static_cast<float>(planeSize);
}

class GlobalPoolKernel : public Kernel {
public:
    explicit GlobalPoolKernel(bool isMax) : mIsMax(isMax) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        if (x.size() < 2) return invalidArgument(tacticName() + ": the input needs N and C dims");
        mPlanes = x[0] * x[1];
        mPlaneSize = shapeElementCount(Shape(x.begin() + 2, x.end()));
        if (outputs[0].elementCount() != mPlanes)
            return invalidArgument(tacticName() + ": the output must hold one value per (n, c)");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlanes == 0) return Status::ok();
        constexpr int kBlock = 256;
        const unsigned grid = static_cast<unsigned>((mPlanes + kBlock / 32 - 1) / (kBlock / 32));
        auto stream = static_cast<cudaStream_t>(io.stream);
        const float* in = static_cast<const float*>(io.input(0).data);
        float* out = static_cast<float*>(io.output(0).data);
        if (mIsMax)
            globalPoolKernel<true><<<grid, kBlock, 0, stream>>>(in, out, mPlanes, mPlaneSize);
        else
            globalPoolKernel<false><<<grid, kBlock, 0, stream>>>(in, out, mPlanes, mPlaneSize);
        return launchStatus("globalPoolKernel");
    }

    std::string tacticName() const override {
        return mIsMax ? "cuda.global_maxpool_f32" : "cuda.global_avgpool_f32";
    }

private:
    bool mIsMax;
    int64_t mPlanes{0};
    int64_t mPlaneSize{0};
};

bool pool2dSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1, {DataType::kFLOAT}, reason)) return false;
    if (node.input(0)->shape.size() != 4) {
        if (reason) *reason = "the CUDA pooling handles 2-D windows (4-D input) only";
        return false;
    }
    if (node.outputs.size() > 1 && node.outputs[1]) {
        if (reason) *reason = "MaxPool's Indices output has no CUDA kernel";
        return false;
    }
    return true;
}

bool globalPoolSupported(const Node& node, std::string* reason) {
    return inputsHaveType(node, 0, 1, {DataType::kFLOAT}, reason);
}

}  // namespace

void registerPoolingKernels(CudaKernelRegistry& registry) {
    registry.add({"MaxPool", pool2dSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<Pool2dKernel>(node, true));
                  }});
    registry.add({"AveragePool", pool2dSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<Pool2dKernel>(node, false));
                  }});
    registry.add({"GlobalAveragePool", globalPoolSupported,
                  [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GlobalPoolKernel>(false));
                  }});
    registry.add({"GlobalMaxPool", globalPoolSupported,
                  [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GlobalPoolKernel>(true));
                  }});
}

}  // namespace kiln::cuda
