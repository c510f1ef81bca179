// Pooling: MaxPool (with its optional Indices), AveragePool and LpPool over 1-D to 3-D windows on
// float, float16, bfloat16 and double, MaxPool also on int8 and uint8 (pads, strides, dilations, ceil_mode and auto_pad through
// ir/ops/conv_window.h, as shape inference reads them), one thread per output element;
// GlobalAveragePool and GlobalMaxPool on float, float16, bfloat16 (accumulated in float) and double, one
// warp per (n, c) plane.

#include <cuda_fp16.h>

#include <cfloat>
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

constexpr int kPoolDims = 3;  // spatial axes of a window; 1-D and 2-D pools lead with unit axes

/// The window of every spatial axis (unit leading axes pad 1-D and 2-D pools to three).
struct WindowNd {
    int64_t in[kPoolDims];
    int64_t out[kPoolDims];
    int64_t kernel[kPoolDims];
    int64_t stride[kPoolDims];
    int64_t dilation[kPoolDims];
    int64_t padBegin[kPoolDims];
    int64_t padEnd[kPoolDims];
};

enum class PoolKind : int { kMax, kAverage, kLp };

using PoolTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;
// MaxPool also takes these (ONNX's MaxPool types): double holds every value exactly.
using MaxPoolTypes = DeviceTypes<float, __half, __nv_bfloat16, double, int8_t, uint8_t>;

template <typename T>
__device__ __forceinline__ double poolLoad(T v) {
    return static_cast<double>(load(v));
}

template <typename T>
__device__ __forceinline__ T poolStore(double v) {
    return store<T>(v);
}

// One thread per output element, walking its window's taps inside the input (as the CPU kernel does:
// max keeps the first of equal maxima; average and Lp accumulate in double). count_include_pad counts
// the taps inside the padded input (not beyond the end padding that ceil_mode may add), as ONNX
// Runtime does. MaxPool's Indices are flat over the input, row-major or (storage_order 1) column-major
// over the spatial axes.
template <typename T, PoolKind kKind>
__global__ void poolKernel(const T* in, T* out, int64_t* indices, int64_t planes, WindowNd w, bool countIncludePad,
                           double p, bool columnMajor) {
    const int64_t outPlane = w.out[0] * w.out[1] * w.out[2];
    const int64_t inPlane = w.in[0] * w.in[1] * w.in[2];
    const int64_t count = planes * outPlane;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        int64_t rest = i;
        int64_t start[kPoolDims];
        for (int d = kPoolDims - 1; d >= 0; --d) {
            start[d] = (rest % w.out[d]) * w.stride[d] - w.padBegin[d];
            rest /= w.out[d];
        }
        const int64_t plane = rest;
        const T* x = in + plane * inPlane;
        double best = -INFINITY;
        int64_t bestPixel[kPoolDims] = {-1, -1, -1};
        double sum = 0;
        int64_t taps = 0;
        for (int64_t k0 = 0; k0 < w.kernel[0]; ++k0) {
            const int64_t p0 = start[0] + k0 * w.dilation[0];
            if (p0 < 0 || p0 >= w.in[0]) continue;
            for (int64_t k1 = 0; k1 < w.kernel[1]; ++k1) {
                const int64_t p1 = start[1] + k1 * w.dilation[1];
                if (p1 < 0 || p1 >= w.in[1]) continue;
                for (int64_t k2 = 0; k2 < w.kernel[2]; ++k2) {
                    const int64_t p2 = start[2] + k2 * w.dilation[2];
                    if (p2 < 0 || p2 >= w.in[2]) continue;
                    const double v = poolLoad(x[(p0 * w.in[1] + p1) * w.in[2] + p2]);
                    if constexpr (kKind == PoolKind::kMax) {
                        if (bestPixel[0] < 0 || v > best) {
                            best = v;
                            bestPixel[0] = p0;
                            bestPixel[1] = p1;
                            bestPixel[2] = p2;
                        }
                    } else if constexpr (kKind == PoolKind::kAverage) {
                        sum += v;
                    } else {
                        sum += pow(fabs(v), p);
                    }
                    ++taps;
                }
            }
        }
        if constexpr (kKind == PoolKind::kMax) {
            out[i] = poolStore<T>(best);
            if (indices) {
                int64_t flat = -1;
                if (bestPixel[0] >= 0) {
                    flat = 0;
                    if (columnMajor)
                        for (int d = kPoolDims - 1; d >= 0; --d) flat = flat * w.in[d] + bestPixel[d];
                    else
                        for (int d = 0; d < kPoolDims; ++d) flat = flat * w.in[d] + bestPixel[d];
                    flat += plane * inPlane;
                }
                indices[i] = flat;
            }
        } else if constexpr (kKind == PoolKind::kAverage) {
            int64_t divisor = taps;
            if (countIncludePad) {
                divisor = 1;
                for (int d = 0; d < kPoolDims; ++d) {
                    // Taps from the window's start (inside the begin padding too) up to the end padding.
                    const int64_t end = min(start[d] + (w.kernel[d] - 1) * w.dilation[d] + 1, w.in[d] + w.padEnd[d]);
                    divisor *= end > start[d] ? (end - start[d] + w.dilation[d] - 1) / w.dilation[d] : 0;
                }
            }
            out[i] = poolStore<T>(sum / static_cast<double>(divisor));
        } else {
            out[i] = poolStore<T>(pow(sum, 1.0 / p));
        }
    }
}

class PoolKernel : public Kernel {
public:
    PoolKernel(const Node& node, PoolKind kind)
        : mAttrs(node.attrs),
          mKind(kind),
          mType(node.input(0)->dtype),
          mCountIncludePad(node.attrs.getInt("count_include_pad", 0) != 0),
          mP(static_cast<double>(node.attrs.getInt("p", 2))),
          mColumnMajor(node.attrs.getInt("storage_order", 0) == 1),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const TensorView& x = inputs[0];
        const TensorView& y = outputs[0];
        if (x.rank() < 3 || x.rank() > 2 + kPoolDims || y.rank() != x.rank())
            return unsupported(mName + ": the CUDA pooling takes 1 to 3 spatial axes");
        const size_t spatial = x.shape.size() - 2;
        KILN_ASSIGN_OR_RETURN(WindowSpec spec, parseWindowSpec(mAttrs, spatial, std::nullopt, WindowKind::kPooling));
        const size_t lead = kPoolDims - spatial;
        for (size_t d = 0; d < kPoolDims; ++d) {
            if (d < lead) {
                mWindow.in[d] = mWindow.out[d] = mWindow.kernel[d] = mWindow.stride[d] = mWindow.dilation[d] = 1;
                mWindow.padBegin[d] = mWindow.padEnd[d] = 0;
                continue;
            }
            const size_t a = d - lead;
            const AxisWindow window = forwardWindow(spec, a, x.shape[2 + a]);
            if (window.output != y.shape[2 + a])
                return invalidArgument(mName + ": output " + shapeToString(y.shape, true) + " does not match the window");
            mWindow.in[d] = x.shape[2 + a];
            mWindow.out[d] = window.output;
            mWindow.kernel[d] = spec.kernel[a];
            mWindow.stride[d] = spec.strides[a];
            mWindow.dilation[d] = spec.dilations[a];
            mWindow.padBegin[d] = window.padBegin;
            mWindow.padEnd[d] = window.padEnd;
        }
        mPlanes = x.shape[0] * x.shape[1];
        mCount = y.elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const bool launched = mKind == PoolKind::kMax
                                  ? MaxPoolTypes::dispatch(mType, [&](auto tag) { launch<decltype(tag)>(io, stream); })
                                  : PoolTypes::dispatch(mType, [&](auto tag) { launchWindowMean<decltype(tag)>(io, stream); });
        if (!launched) return unsupported(mName + ": no CUDA pooling on " + dataTypeName(mType));
        return launchStatus("poolKernel");
    }

    std::string tacticName() const override {
        const char* kind = mKind == PoolKind::kMax ? "maxpool_" : mKind == PoolKind::kAverage ? "avgpool_" : "lppool_";
        return std::string("cuda.") + kind + tacticTypeSuffix(mType);
    }

private:
    template <typename T>
    void launch(const KernelIO& io, cudaStream_t stream) {
        const T* in = static_cast<const T*>(io.input(0).data);
        T* out = static_cast<T*>(io.output(0).data);
        int64_t* indices = io.numOutputs > 1 && io.output(1).data ? static_cast<int64_t*>(io.output(1).data) : nullptr;
        poolKernel<T, PoolKind::kMax><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(
            in, out, indices, mPlanes, mWindow, false, mP, mColumnMajor);
    }

    /// AveragePool and LpPool (floating types only).
    template <typename T>
    void launchWindowMean(const KernelIO& io, cudaStream_t stream) {
        const T* in = static_cast<const T*>(io.input(0).data);
        T* out = static_cast<T*>(io.output(0).data);
        const unsigned grid = elementwiseGrid(mCount);
        if (mKind == PoolKind::kAverage)
            poolKernel<T, PoolKind::kAverage><<<grid, kElementwiseBlock, 0, stream>>>(in, out, nullptr, mPlanes, mWindow,
                                                                                     mCountIncludePad, mP, false);
        else
            poolKernel<T, PoolKind::kLp><<<grid, kElementwiseBlock, 0, stream>>>(in, out, nullptr, mPlanes, mWindow,
                                                                                false, mP, false);
    }

    AttributeMap mAttrs;
    PoolKind mKind;
    DataType mType;
    bool mCountIncludePad;
    double mP;
    bool mColumnMajor;
    std::string mName;
    WindowNd mWindow{};
    int64_t mPlanes{0};
    int64_t mCount{0};
};

// One warp per plane: planes are small (7x7 in ResNet-50) and many.
template <typename T, bool kMax>
__global__ void globalPoolKernel(const T* in, T* out, int64_t planes, int64_t planeSize) {
    using C = Compute<T>;
    const int64_t warpsPerBlock = blockDim.x / 32;
    const int64_t plane = static_cast<int64_t>(blockIdx.x) * warpsPerBlock + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (plane >= planes) return;
    const T* x = in + plane * planeSize;
    C acc = kMax ? C(-INFINITY) : C(0);
    for (int64_t i = lane; i < planeSize; i += 32) acc = kMax ? fmax(acc, load(x[i])) : acc + load(x[i]);
    for (int offset = 16; offset > 0; offset >>= 1) {
        const C other = __shfl_xor_sync(0xffffffffu, acc, offset);
        acc = kMax ? fmax(acc, other) : acc + other;
    }
    if (lane == 0) out[plane] = store<T>(kMax ? acc : acc / static_cast<C>(planeSize));
}

class GlobalPoolKernel : public Kernel {
public:
    GlobalPoolKernel(bool isMax, DataType type) : mIsMax(isMax), mType(type) {}

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
        PoolTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            const T* in = static_cast<const T*>(io.input(0).data);
            T* out = static_cast<T*>(io.output(0).data);
            if (mIsMax)
                globalPoolKernel<T, true><<<grid, kBlock, 0, stream>>>(in, out, mPlanes, mPlaneSize);
            else
                globalPoolKernel<T, false><<<grid, kBlock, 0, stream>>>(in, out, mPlanes, mPlaneSize);
        });
        return launchStatus("globalPoolKernel");
    }

    std::string tacticName() const override {
        return std::string(mIsMax ? "cuda.global_maxpool_" : "cuda.global_avgpool_") + tacticTypeSuffix(mType);
    }

private:
    bool mIsMax;
    DataType mType;
    int64_t mPlanes{0};
    int64_t mPlaneSize{0};
};

bool poolSupported(const Node& node, std::string* reason) {
    const std::vector<DataType> types = node.opType == "MaxPool" ? MaxPoolTypes::types() : PoolTypes::types();
    if (!inputsHaveType(node, 0, 1, types, reason)) return false;
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank - 2 > static_cast<size_t>(kPoolDims)) {
        if (reason) *reason = "the CUDA pooling handles 1 to 3 spatial axes (3-D to 5-D input); the input has rank " +
                              std::to_string(rank);
        return false;
    }
    auto spec = parseWindowSpec(node.attrs, rank - 2, std::nullopt, WindowKind::kPooling);
    if (!spec) {
        if (reason) *reason = spec.status().message();
        return false;
    }
    return true;
}

bool globalPoolSupported(const Node& node, std::string* reason) {
    return inputsHaveType(node, 0, 1, PoolTypes::types(), reason);
}

}  // namespace

void registerPoolingKernels(CudaKernelRegistry& registry) {
    registry.add({"MaxPool", poolSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<PoolKernel>(node, PoolKind::kMax));
                  }});
    registry.add({"AveragePool", poolSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<PoolKernel>(node, PoolKind::kAverage));
                  }});
    registry.add({"LpPool", poolSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<PoolKernel>(node, PoolKind::kLp));
                  }});
    registry.add({"GlobalAveragePool", globalPoolSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GlobalPoolKernel>(false, node.input(0)->dtype));
                  }});
    registry.add({"GlobalMaxPool", globalPoolSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<GlobalPoolKernel>(true, node.input(0)->dtype));
                  }});
}

}  // namespace kiln::cuda
