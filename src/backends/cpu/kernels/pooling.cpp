// MaxPool (with optional Indices), AveragePool and LpPool on the CPU, for any number of spatial
// axes. Window bounds are precomputed per axis at reshape; run walks each output position's
// in-image taps with the innermost axis as the tight loop.
// kiln::ChannelsLastPool (NHWC) is registered here too; it runs these kernels between transposes (channels_last.cpp).

#include <cmath>
#include <limits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/channels_last.h"
#include "backends/cpu/kernels/conv_common.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/pooling_common.h"
#include "ir/ops/conv_window.h"

namespace kiln {

namespace {

using cpu::kMaxPoolSpatialRank;

enum class PoolKind { kMax, kAverage, kLp };

/// One output position's window on one axis: taps k in [lo, hi) read pixel start + k * dilation
/// inside the input; `padded` taps lie inside input + explicit padding (count_include_pad's divisor).
struct AxisTaps {
    int64_t start;
    int64_t lo;
    int64_t hi;
    int64_t padded;
};

class PoolKernel : public Kernel {
public:
    PoolKernel(PoolKind kind, DataType type, WindowSpec spec, bool countIncludePad, int64_t p, bool columnMajorIndices)
        : mKind(kind),
          mType(type),
          mSpec(std::move(spec)),
          mCountIncludePad(countIncludePad),
          mP(p),
          mColumnMajorIndices(columnMajorIndices) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const size_t n = x.size() - 2;
        mPlanes = x[0] * x[1];
        mInput.assign(x.begin() + 2, x.end());
        mOutput.assign(n, 0);
        mTaps.assign(n, {});
        for (size_t d = 0; d < n; ++d) {
            AxisWindow window = forwardWindow(mSpec, d, x[2 + d]);
            mOutput[d] = window.output;
            const int64_t dilation = mSpec.dilations[d];
            for (int64_t o = 0; o < window.output; ++o) {
                AxisTaps taps;
                taps.start = o * mSpec.strides[d] - window.padBegin;
                const cpu::LineRange inside = cpu::validRange(taps.start, dilation, x[2 + d], mSpec.kernel[d]);
                taps.lo = inside.lo;
                taps.hi = inside.hi;
                taps.padded = cpu::validRange(taps.start, dilation, x[2 + d] + window.padEnd, mSpec.kernel[d]).hi;
                mTaps[d].push_back(taps);
            }
        }
        if (Shape(outputs[0].shape.begin() + 2, outputs[0].shape.end()) != mOutput)
            return internalError("pooling output shape " + shapeToString(outputs[0].shape, true) +
                                 " differs from the window arithmetic " + shapeToString(mOutput, true));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        int64_t* indices = io.numOutputs > 1 && io.output(1).data ? io.output(1).as<int64_t>() : nullptr;
        return dispatchDataType(mType, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, bool>) {
                return internalError("pooling has no bool kernel");
            } else {
                compute(io.input(0).as<const T>(), io.output(0).as<T>(), indices);
                return Status::ok();
            }
        });
    }

    std::string tacticName() const override {
        const char* kind = mKind == PoolKind::kMax ? "max" : (mKind == PoolKind::kAverage ? "average" : "lp");
        return std::string("cpu.") + kind + "pool" + std::to_string(mInput.size()) + "d_direct_" + dataTypeName(mType);
    }

private:
    /// Calls fn(offset, pixelCoordinates) for every in-input tap of the window at `position`. The
    /// 2-D form (most models' pools) is two plain loops; other ranks walk an odometer.
    template <bool kIs2d, typename Fn>
    void forEachTap(const int64_t* position, Fn&& fn) const {
        if constexpr (kIs2d) {
            const AxisTaps& th = mTaps[0][static_cast<size_t>(position[0])];
            const AxisTaps& tw = mTaps[1][static_cast<size_t>(position[1])];
            const int64_t dh = mSpec.dilations[0], dw = mSpec.dilations[1], width = mInput[1];
            int64_t pixel[2];
            for (int64_t kh = th.lo; kh < th.hi; ++kh) {
                pixel[0] = th.start + kh * dh;
                const int64_t row = pixel[0] * width;
                for (int64_t kw = tw.lo; kw < tw.hi; ++kw) {
                    pixel[1] = tw.start + kw * dw;
                    fn(row + pixel[1], pixel);
                }
            }
        } else {
            forEachTapNd(position, fn);
        }
    }

    template <typename Fn>
    void forEachTapNd(const int64_t* position, Fn& fn) const {
        const size_t n = mInput.size();
        const AxisTaps* taps[kMaxPoolSpatialRank];
        int64_t k[kMaxPoolSpatialRank];
        int64_t pixel[kMaxPoolSpatialRank];
        for (size_t d = 0; d < n; ++d) {
            taps[d] = &mTaps[d][static_cast<size_t>(position[d])];
            if (taps[d]->lo >= taps[d]->hi) return;  // the window misses the input on this axis
            k[d] = taps[d]->lo;
        }
        const size_t last = n - 1;
        const int64_t lastDilation = mSpec.dilations[last];
        while (true) {
            int64_t offset = 0;
            for (size_t d = 0; d < last; ++d) {
                pixel[d] = taps[d]->start + k[d] * mSpec.dilations[d];
                offset = offset * mInput[d] + pixel[d];
            }
            offset *= mInput[last];
            for (int64_t kk = taps[last]->lo; kk < taps[last]->hi; ++kk) {
                pixel[last] = taps[last]->start + kk * lastDilation;
                fn(offset + pixel[last], pixel);
            }
            size_t d = last;
            while (d-- > 0) {  // odometer over the outer axes
                if (++k[d] < taps[d]->hi) break;
                k[d] = taps[d]->lo;
            }
            if (d == static_cast<size_t>(-1)) return;
        }
    }

    /// count_include_pad's divisor, or the number of in-input taps.
    int64_t divisor(const int64_t* position) const {
        int64_t count = 1;
        for (size_t d = 0; d < mInput.size(); ++d) {
            const AxisTaps& t = mTaps[d][static_cast<size_t>(position[d])];
            count *= mCountIncludePad ? t.padded : std::max<int64_t>(t.hi - t.lo, 0);
        }
        return count;
    }

    int64_t flatIndex(const int64_t* pixel) const {
        int64_t index = 0;
        if (mColumnMajorIndices) {
            for (size_t d = mInput.size(); d-- > 0;) index = index * mInput[d] + pixel[d];
        } else {
            for (size_t d = 0; d < mInput.size(); ++d) index = index * mInput[d] + pixel[d];
        }
        return index;
    }

    template <typename T>
    void compute(const T* x, T* y, int64_t* indices) const {
        if (mInput.size() == 2) computeWindows<T, true>(x, y, indices);
        else computeWindows<T, false>(x, y, indices);
    }

    template <typename T, bool kIs2d>
    void computeWindows(const T* x, T* y, int64_t* indices) const {
        const int64_t inSize = shapeElementCount(mInput);
        const int64_t outSize = shapeElementCount(mOutput);
        const size_t n = mInput.size();
        using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;
#pragma omp parallel for schedule(static) if (mPlanes * outSize * mSpec.kernel[0] >= cpu::kPoolParallelWork)
        for (int64_t plane = 0; plane < mPlanes; ++plane) {
            const T* src = x + plane * inSize;
            int64_t position[kMaxPoolSpatialRank] = {};
            for (int64_t o = 0; o < outSize; ++o) {
                const int64_t out = plane * outSize + o;
                if (mKind == PoolKind::kMax) {
                    Acc best = -std::numeric_limits<Acc>::infinity();
                    int64_t bestIndex = -1;
                    if constexpr (std::is_integral_v<T>) best = std::numeric_limits<T>::lowest();
                    forEachTap<kIs2d>(position, [&](int64_t offset, const int64_t* pixel) {
                        Acc v = static_cast<Acc>(src[offset]);
                        if (bestIndex < 0 || v > best) {
                            best = v;
                            bestIndex = indices ? flatIndex(pixel) : 0;
                        }
                    });
                    y[out] = static_cast<T>(best);
                    if (indices) indices[out] = bestIndex < 0 ? -1 : plane * inSize + bestIndex;
                } else {
                    double sum = 0;
                    if (mKind == PoolKind::kAverage) {
                        forEachTap<kIs2d>(position, [&](int64_t offset, const int64_t*) { sum += static_cast<double>(src[offset]); });
                        y[out] = static_cast<T>(static_cast<Acc>(sum / static_cast<double>(divisor(position))));
                    } else {
                        forEachTap<kIs2d>(position, [&](int64_t offset, const int64_t*) {
                            sum += std::pow(std::fabs(static_cast<double>(src[offset])), static_cast<double>(mP));
                        });
                        y[out] = static_cast<T>(static_cast<Acc>(std::pow(sum, 1.0 / static_cast<double>(mP))));
                    }
                }
                for (size_t d = n; d-- > 0;) {  // next output position
                    if (++position[d] < mOutput[d]) break;
                    position[d] = 0;
                }
            }
        }
    }

    PoolKind mKind;
    DataType mType;
    WindowSpec mSpec;
    bool mCountIncludePad;
    int64_t mP;
    bool mColumnMajorIndices;
    int64_t mPlanes{0};
    Shape mInput, mOutput;
    std::vector<std::vector<AxisTaps>> mTaps;
};

Expected<std::unique_ptr<Kernel>> createPool(const Node& node, PoolKind kind) {
    // Constant folding creates kernels without asking supports() first.
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank - 2 > kMaxPoolSpatialRank)
        return unsupported(node.describe() + ": pooling handles 1 to " + std::to_string(kMaxPoolSpatialRank) +
                           " spatial axes");
    const size_t spatial = rank - 2;
    auto spec = parseWindowSpec(node.attrs, spatial, std::nullopt, WindowKind::kPooling);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    const bool countIncludePad = node.attrs.getInt("count_include_pad", 0) != 0;
    const int64_t p = node.attrs.getInt("p", 2);
    const bool columnMajor = node.attrs.getInt("storage_order", 0) == 1;
    return std::unique_ptr<Kernel>(
        new PoolKernel(kind, node.input(0)->dtype, std::move(*spec), countIncludePad, p, columnMajor));
}

bool supportsMaxPool(const Node& node, std::string* reason) {
    return cpu::supportsPoolNode(node, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE,
                                        DataType::kINT8, DataType::kUINT8},
                                 3, reason);
}

bool supportsFloatPool(const Node& node, std::string* reason) {
    return cpu::supportsPoolNode(node, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, 3,
                                 reason);
}

}  // namespace

void registerPoolingKernels(CpuKernelRegistry& registry) {
    registry.add({"MaxPool", supportsMaxPool, [](const Node& node) { return createPool(node, PoolKind::kMax); }, ""});
    registry.add({"AveragePool", supportsFloatPool,
                  [](const Node& node) { return createPool(node, PoolKind::kAverage); }, ""});
    registry.add({"LpPool", supportsFloatPool, [](const Node& node) { return createPool(node, PoolKind::kLp); }, ""});
    cpu::registerGlobalPoolingKernels(registry);
    cpu::registerChannelsLastPoolKernels(registry);
    cpu::registerUnpoolingKernels(registry);
}

}  // namespace kiln
