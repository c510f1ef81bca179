// ConvTranspose on the CPU: per (image, group), a GEMM with the transposed weights makes the
// column matrix, which col2im scatters onto the output (the adjoint of Conv's im2col + GEMM).

#include <omp.h>

#include "backends/cpu/kernels/conv_common.h"
#include "backends/cpu/kernels/conv_im2col.h"
#include "ir/ops/conv_window.h"

namespace kiln::cpu {

namespace {

class ConvTransposeKernel : public Kernel {
public:
    ConvTransposeKernel(DataType type, WindowSpec spec, TransposeSpec transpose, int64_t group, bool hasBias)
        : mType(type), mSpec(std::move(spec)), mTranspose(std::move(transpose)), mGroup(group), mHasBias(hasBias) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& w = inputs[1].shape;
        if (w.size() != x.size() || x.size() < 3)
            return invalidArgument("ConvTranspose input " + shapeToString(x, true) + " and weights " +
                                   shapeToString(w, true) + " must have the same rank >= 3");
        const size_t n = x.size() - 2;
        mBatch = x[0];
        mInChannels = x[1];
        mOutPerGroup = w[1];
        if (mInChannels != w[0] || mInChannels % mGroup != 0)
            return invalidArgument("ConvTranspose input " + shapeToString(x, true) + " does not match weights " +
                                   shapeToString(w, true) + " with group " + std::to_string(mGroup));
        Shape kernel(w.begin() + 2, w.end());
        if (!mSpec.kernel.empty() && mSpec.kernel != kernel)
            return invalidArgument("ConvTranspose kernel_shape differs from the weights " + shapeToString(w, true));
        WindowSpec spec = mSpec;
        spec.kernel = kernel;
        // The output is the windowed image; the input holds one value per window position.
        mGeometry = ConvGeometry{Shape(n), Shape(x.begin() + 2, x.end()), kernel, spec.strides, spec.dilations, Shape(n)};
        for (size_t i = 0; i < n; ++i) {
            AxisWindow window = transposeWindow(spec, mTranspose, i, x[2 + i]);
            mGeometry.padBegin[i] = window.padBegin;
            mGeometry.image[i] = window.output;
        }
        if (Shape(outputs[0].shape.begin() + 2, outputs[0].shape.end()) != mGeometry.image)
            return internalError("ConvTranspose output shape " + shapeToString(outputs[0].shape, true) +
                                 " differs from the window arithmetic " + shapeToString(mGeometry.image, true));

        mDirect = mGeometry.isPointwise();
        const int64_t rows = mOutPerGroup * mGeometry.kernelSize();
        const int64_t itemWork = rows * mGeometry.positionCount() * (mInChannels / mGroup);
        mParallelItems = spreadGemmItems(mBatch * mGroup, itemWork, omp_get_max_threads());
        mThreads = mParallelItems ? omp_get_max_threads() : 1;
        mColSize = mDirect ? 0 : rows * mGeometry.positionCount();
        mStaging = ConvStaging{inputs[0].elementCount(), inputs[1].elementCount(),
                               mHasBias ? inputs[2].elementCount() : 0,
                               outputs[0].elementCount(), mColSize * mThreads};
        return Status::ok();
    }

    size_t workspaceSize() const override { return convWorkspaceSize(mType, mStaging); }

    Status run(const KernelIO& io) override {
        return runConvStaged(mType, io, mStaging, [&](const auto* x, const auto* w, const auto* bias, auto* y,
                                                       auto* col) { compute(x, w, bias, y, col); });
    }

    std::string tacticName() const override {
        return "cpu.conv_transpose" + std::to_string(mGeometry.kernel.size()) + "d_" +
               (mDirect ? "pointwise_gemm_" : "gemm_col2im_") + dataTypeName(mType);
    }

private:
    template <typename F>
    void compute(const F* x, const F* w, const F* bias, F* y, F* col) const {
        if (mStaging.y == 0) return;
        const int64_t inPerGroup = mInChannels / mGroup;
        const int64_t outChannels = mOutPerGroup * mGroup;
        const int64_t positions = mGeometry.positionCount();
        const int64_t imageSize = mGeometry.imageSize();
        const int64_t rows = mOutPerGroup * mGeometry.kernelSize();
        forEachConvItem(mBatch, mGroup, mParallelItems, mThreads, col, mColSize,
                        [&](int64_t n, int64_t g, F* colBuffer, bool innerParallel) {
            const F* in = x + (n * mInChannels + g * inPerGroup) * positions;
            F* out = y + (n * outChannels + g * mOutPerGroup) * imageSize;
            // Weights of group g: (inPerGroup) x (rows), used transposed.
            const F* weights = w + g * inPerGroup * rows;
            const GemmShape shape{true, false, rows, positions, inPerGroup, rows, positions, positions};
            if (mDirect) {
                if (inPerGroup == 0) std::fill(out, out + rows * positions, F(0));
                else gemmRowMajor(shape, F(1), weights, in, F(0), out);
            } else {
                if (inPerGroup == 0) std::fill(colBuffer, colBuffer + rows * positions, F(0));
                else gemmRowMajor(shape, F(1), weights, in, F(0), colBuffer);
                std::fill(out, out + mOutPerGroup * imageSize, F(0));
                col2imAccumulate(mGeometry, static_cast<const F*>(colBuffer), mOutPerGroup, out,
                                 innerParallel && mOutPerGroup * imageSize >= kParallelWork);
            }
            if (bias) addChannelBias(out, bias + g * mOutPerGroup, mOutPerGroup, imageSize);
        });
    }

    DataType mType;
    WindowSpec mSpec;
    TransposeSpec mTranspose;
    int64_t mGroup;
    bool mHasBias;
    ConvGeometry mGeometry;
    int64_t mBatch{0}, mInChannels{0}, mOutPerGroup{0};
    bool mDirect{false}, mParallelItems{false};
    int mThreads{1};
    int64_t mColSize{0};
    ConvStaging mStaging;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> createConvTransposeKernel(const Node& node) {
    // Constant folding creates kernels without asking supports() first.
    std::string reason;
    if (!supportsConvNode(node, &reason)) return unsupported(node.describe() + ": " + reason);
    const size_t spatial = node.input(0)->shape.size() - 2;
    auto spec = parseWindowSpec(node.attrs, spatial, declaredKernel(node), WindowKind::kConvolution);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    auto transpose = parseTransposeSpec(node.attrs, *spec);
    if (!transpose) return invalidModel(node.describe() + ": " + transpose.status().message());
    int64_t group = node.attrs.getInt("group", 1);
    if (group < 1) return invalidModel(node.describe() + ": attribute group must be >= 1");
    return std::unique_ptr<Kernel>(
        new ConvTransposeKernel(node.input(0)->dtype, std::move(*spec), std::move(*transpose), group, node.hasInput(2)));
}

}  // namespace kiln::cpu
