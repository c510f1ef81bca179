// Conv on the CPU: im2col + GEMM per (image, group), with 1x1 stride-1 convolutions reading the
// input directly as the column matrix, and a direct loop for 2-D depthwise convolutions.

#include <omp.h>

#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/conv_common.h"
#include "backends/cpu/kernels/conv_im2col.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "ir/ops/conv_window.h"

namespace kiln {

namespace cpu {

bool supportsConvNode(const Node& node, std::string* reason) {
    if (!inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, reason))
        return false;
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank - 2 > kMaxConvSpatialRank) {
        if (reason) *reason = "the CPU kernel handles 1 to " + std::to_string(kMaxConvSpatialRank) + " spatial axes";
        return false;
    }
    return true;
}

std::optional<Shape> declaredKernel(const Node& node) {
    const Value* w = node.input(1);
    if (!w || w->shape.size() < 3) return std::nullopt;
    Shape kernel;
    for (size_t i = 2; i < w->shape.size(); ++i) {
        if (!w->shape[i].isKnown()) return std::nullopt;
        kernel.push_back(w->shape[i].value);
    }
    return kernel;
}

}  // namespace cpu

namespace {

using cpu::ConvGeometry;
using cpu::ConvStaging;

/// 2-D depthwise convolution (one input channel per group): each output plane is a weighted sum
/// of shifted rows of its input plane, accumulated row by row so the inner loop is contiguous.
template <typename F>
void depthwise2d(const ConvGeometry& g, int64_t batch, int64_t channels, int64_t multiplier, const F* x, const F* w,
                 const F* bias, F* y) {
    const int64_t h = g.image[0], wd = g.image[1];
    const int64_t oh = g.positions[0], ow = g.positions[1];
    const int64_t kh = g.kernel[0], kw = g.kernel[1];
    const int64_t sh = g.strides[0], sw = g.strides[1];
    const int64_t outChannels = channels * multiplier;
    const int64_t planes = batch * outChannels;
#pragma omp parallel for schedule(static) if (planes * oh * ow * kh * kw >= cpu::kParallelWork && planes > 1)
    for (int64_t plane = 0; plane < planes; ++plane) {
        const int64_t n = plane / outChannels, m = plane % outChannels;
        const F* src = x + (n * channels + m / multiplier) * h * wd;
        const F* kernel = w + m * kh * kw;
        F* dst = y + plane * oh * ow;
        const F b = bias ? bias[m] : F(0);
        for (int64_t r = 0; r < oh; ++r) {
            F* row = dst + r * ow;
            std::fill(row, row + ow, b);
            for (int64_t ki = 0; ki < kh; ++ki) {
                const int64_t ih = r * sh - g.padBegin[0] + ki * g.dilations[0];
                if (ih < 0 || ih >= h) continue;
                const F* srow = src + ih * wd;
                for (int64_t kj = 0; kj < kw; ++kj) {
                    const F weight = kernel[ki * kw + kj];
                    const int64_t start = kj * g.dilations[1] - g.padBegin[1];
                    cpu::LineRange range = cpu::validRange(start, sw, wd, ow);
                    if (sw == 1) {
                        const F* s = srow + start;
                        for (int64_t o = range.lo; o < range.hi; ++o) row[o] += weight * s[o];
                    } else {
                        for (int64_t o = range.lo; o < range.hi; ++o) row[o] += weight * srow[start + o * sw];
                    }
                }
            }
        }
    }
}

class ConvKernel : public Kernel {
public:
    ConvKernel(DataType type, WindowSpec spec, int64_t group, bool hasBias)
        : mType(type), mSpec(std::move(spec)), mGroup(group), mHasBias(hasBias) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& w = inputs[1].shape;
        if (w.size() != x.size() || x.size() < 3)
            return invalidArgument("Conv input " + shapeToString(x, true) + " and weights " + shapeToString(w, true) +
                                   " must have the same rank >= 3");
        const size_t n = x.size() - 2;
        mBatch = x[0];
        mInChannels = x[1];
        mOutChannels = w[0];
        if (mInChannels != w[1] * mGroup || mOutChannels % mGroup != 0)
            return invalidArgument("Conv input " + shapeToString(x, true) + " does not match weights " +
                                   shapeToString(w, true) + " with group " + std::to_string(mGroup));
        Shape kernel(w.begin() + 2, w.end());
        if (!mSpec.kernel.empty() && mSpec.kernel != kernel)
            return invalidArgument("Conv kernel_shape differs from the weights " + shapeToString(w, true));
        WindowSpec spec = mSpec;
        spec.kernel = kernel;
        mGeometry = ConvGeometry{Shape(x.begin() + 2, x.end()), Shape(n), kernel, spec.strides, spec.dilations, Shape(n)};
        for (size_t i = 0; i < n; ++i) {
            AxisWindow window = forwardWindow(spec, i, x[2 + i]);
            mGeometry.padBegin[i] = window.padBegin;
            mGeometry.positions[i] = window.output;
        }
        if (Shape(outputs[0].shape.begin() + 2, outputs[0].shape.end()) != mGeometry.positions)
            return internalError("Conv output shape " + shapeToString(outputs[0].shape, true) +
                                 " differs from the window arithmetic " + shapeToString(mGeometry.positions, true));

        const int64_t inPerGroup = mInChannels / mGroup;
        mDepthwise = n == 2 && inPerGroup == 1;
        mPointwise = mGeometry.isPointwise();
        const int64_t depth = inPerGroup * mGeometry.kernelSize();
        const int64_t itemWork = (mOutChannels / mGroup) * mGeometry.positionCount() * depth;
        mParallelItems = !mDepthwise && cpu::spreadGemmItems(mBatch * mGroup, itemWork, omp_get_max_threads());
        mThreads = mParallelItems ? omp_get_max_threads() : 1;
        mColSize = (mDepthwise || mPointwise) ? 0 : depth * mGeometry.positionCount();
        mStaging = ConvStaging{inputs[0].elementCount(), inputs[1].elementCount(),
                               mHasBias ? inputs[2].elementCount() : 0,
                               outputs[0].elementCount(), mColSize * mThreads};
        return Status::ok();
    }

    size_t workspaceSize() const override { return cpu::convWorkspaceSize(mType, mStaging); }

    Status run(const KernelIO& io) override {
        return cpu::runConvStaged(mType, io, mStaging, [&](const auto* x, const auto* w, const auto* bias, auto* y,
                                                            auto* col) { compute(x, w, bias, y, col); });
    }

    std::string tacticName() const override {
        std::string name = "cpu.conv" + std::to_string(mGeometry.kernel.size()) + "d_";
        if (mDepthwise) name += "depthwise_direct";
        else if (mPointwise) name += "pointwise_gemm";
        else name += "im2col_gemm";
        return name + "_" + dataTypeName(mType);
    }

private:
    template <typename F>
    void compute(const F* x, const F* w, const F* bias, F* y, F* col) const {
        if (mStaging.y == 0) return;
        if (mDepthwise) {
            depthwise2d(mGeometry, mBatch, mInChannels, mOutChannels / mInChannels, x, w, bias, y);
            return;
        }
        const int64_t inPerGroup = mInChannels / mGroup;
        const int64_t outPerGroup = mOutChannels / mGroup;
        const int64_t imageSize = mGeometry.imageSize();
        const int64_t positions = mGeometry.positionCount();
        const int64_t depth = inPerGroup * mGeometry.kernelSize();
        cpu::forEachConvItem(mBatch, mGroup, mParallelItems, mThreads, col, mColSize,
                             [&](int64_t n, int64_t g, F* colBuffer, bool innerParallel) {
            const F* image = x + (n * mInChannels + g * inPerGroup) * imageSize;
            F* out = y + (n * mOutChannels + g * outPerGroup) * positions;
            const F* columns = image;
            if (!mPointwise) {
                cpu::im2col(mGeometry, image, inPerGroup, colBuffer, innerParallel && mColSize >= cpu::kParallelWork);
                columns = colBuffer;
            }
            if (depth == 0) {
                std::fill(out, out + outPerGroup * positions, F(0));
            } else {
                cpu::gemmRowMajor(cpu::GemmShape{false, false, outPerGroup, positions, depth, depth, positions, positions},
                                  F(1), w + g * outPerGroup * depth, columns, F(0), out);
            }
            if (bias) cpu::addChannelBias(out, bias + g * outPerGroup, outPerGroup, positions);
        });
    }

    DataType mType;
    WindowSpec mSpec;
    int64_t mGroup;
    bool mHasBias;
    ConvGeometry mGeometry;
    int64_t mBatch{0}, mInChannels{0}, mOutChannels{0};
    bool mDepthwise{false}, mPointwise{false}, mParallelItems{false};
    int mThreads{1};
    int64_t mColSize{0};
    ConvStaging mStaging;
};

Expected<std::unique_ptr<Kernel>> createConv(const Node& node) {
    // Constant folding creates kernels without asking supports() first.
    std::string reason;
    if (!cpu::supportsConvNode(node, &reason)) return unsupported(node.describe() + ": " + reason);
    const size_t spatial = node.input(0)->shape.size() - 2;
    auto spec = parseWindowSpec(node.attrs, spatial, cpu::declaredKernel(node), WindowKind::kConvolution);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    int64_t group = node.attrs.getInt("group", 1);
    if (group < 1) return invalidModel(node.describe() + ": attribute group must be >= 1");
    return std::unique_ptr<Kernel>(new ConvKernel(node.input(0)->dtype, std::move(*spec), group, node.hasInput(2)));
}

}  // namespace

void registerConvKernels(CpuKernelRegistry& registry) {
    registry.add({"Conv", cpu::supportsConvNode, createConv, ""});
    registry.add({"ConvTranspose", cpu::supportsConvNode, cpu::createConvTransposeKernel, ""});
    cpu::registerDeformConvKernels(registry);
}

}  // namespace kiln
