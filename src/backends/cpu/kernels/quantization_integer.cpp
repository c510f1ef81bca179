// CPU kernels of the integer compute ops: MatMulInteger and ConvInteger (int32 results of
// (a - a_zero_point) x (b - b_zero_point)), and QLinearMatMul and QLinearConv, which requantize
// that int32 accumulator: y = saturate(round(acc * a_scale * b_scale / y_scale) + y_zero_point).
// The zero-point-shifted operands become doubles and multiply in BLAS's double GEMM: every
// product and partial sum of 8-bit values is an integer far below 2^53, so the accumulator is
// exact. Convolutions go through an im2col of the shifted input. Zero points and scales may be
// per tensor, per row / output channel, or per column.

#include <vector>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/matmul_gemm.h"
#include "backends/cpu/kernels/quantization_parts.h"
#include "backends/quantization_rules.h"
#include "ir/ops/conv_window.h"

namespace kiln::quantkernels {

namespace {

/// Per-tensor (one element) or per-index values of an optional zero point or scale input.
std::vector<double> quantParameter(const KernelIO& io, size_t index, int64_t entries, const std::string& what, Status& status) {
    std::vector<double> values(static_cast<size_t>(std::max<int64_t>(entries, 1)), 0.0);
    if (!io.hasInput(index)) return values;
    const TensorView& view = io.input(index);
    const int64_t count = view.elementCount();
    if (count == 1) {
        std::fill(values.begin(), values.end(), elementAt(view, 0));
    } else if (count == entries) {
        for (int64_t i = 0; i < count; ++i) values[static_cast<size_t>(i)] = elementAt(view, i);
    } else {
        status = invalidArgument(what + " has " + std::to_string(count) + " entries; 1 or " + std::to_string(entries) + " are allowed");
    }
    return values;
}

/// `count` elements of an integer view from `offset`, as doubles.
void loadDoubles(const TensorView& v, int64_t offset, int64_t count, double* out) {
    dispatchDataType(v.dtype, [&](auto tag) {
        const auto* p = v.as<const decltype(tag)>() + offset;
        for (int64_t i = 0; i < count; ++i) out[i] = static_cast<double>(p[i]);
    });
}

/// Reusable buffers of the shifted operands and the product (grown on a shape change only).
struct GemmScratch {
    std::vector<double> lhs, rhs, product;
};

/// A numpy matmul of int8/uint8 operands with per-row (A) and per-column (B) zero points over
/// broadcast batch dimensions; calls emit(outputIndex, acc, row, column).
template <typename Emit>
Status integerMatMul(const TensorView& a, const TensorView& b, const std::vector<double>& aZero,
                     const std::vector<double>& bZero, GemmScratch& scratch, Emit&& emit) {
    Shape as = a.shape, bs = b.shape;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
    if (bs[bs.size() - 2] != k) return invalidArgument("inner dimensions differ: " + shapeToString(a.shape, true) + " x " + shapeToString(b.shape, true));
    Shape batchA(as.begin(), as.end() - 2), batchB(bs.begin(), bs.end() - 2);
    const size_t rank = std::max(batchA.size(), batchB.size());
    batchA.insert(batchA.begin(), rank - batchA.size(), 1);
    batchB.insert(batchB.begin(), rank - batchB.size(), 1);
    Shape batch(rank);
    for (size_t d = 0; d < rank; ++d) {
        if (batchA[d] != batchB[d] && batchA[d] != 1 && batchB[d] != 1)
            return invalidArgument("batch dimensions of " + shapeToString(a.shape, true) + " and " + shapeToString(b.shape, true) + " do not broadcast");
        batch[d] = std::max(batchA[d], batchB[d]);
    }
    const int64_t batches = shapeElementCount(batch);
    scratch.lhs.resize(static_cast<size_t>(m * k));
    scratch.rhs.resize(static_cast<size_t>(k * n));
    scratch.product.resize(static_cast<size_t>(m * n));
    double* lhs = scratch.lhs.data();
    double* rhs = scratch.rhs.data();
    double* product = scratch.product.data();
    cpu::GemmShape shape;
    shape.m = m;
    shape.n = n;
    shape.k = k;
    shape.lda = std::max<int64_t>(k, 1);
    shape.ldb = std::max<int64_t>(n, 1);
    shape.ldc = std::max<int64_t>(n, 1);
    for (int64_t t = 0; t < batches; ++t) {
        int64_t offA = 0, offB = 0, rest = t;
        int64_t strideA = 1, strideB = 1;
        for (size_t d = rank; d-- > 0;) {
            int64_t idx = rest % batch[d];
            rest /= batch[d];
            offA += (batchA[d] == 1 ? 0 : idx) * strideA;
            offB += (batchB[d] == 1 ? 0 : idx) * strideB;
            strideA *= batchA[d];
            strideB *= batchB[d];
        }
        loadDoubles(a, offA * m * k, m * k, lhs);
        loadDoubles(b, offB * k * n, k * n, rhs);
        for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < k; ++j) lhs[r * k + j] -= aZero[aZero.size() == 1 ? 0 : static_cast<size_t>(r)];
        for (int64_t j = 0; j < k; ++j)
            for (int64_t c = 0; c < n; ++c) rhs[j * n + c] -= bZero[bZero.size() == 1 ? 0 : static_cast<size_t>(c)];
        if (m * n > 0) cpu::gemmRowMajor(shape, 1.0, lhs, rhs, 0.0, product);
        for (int64_t r = 0; r < m; ++r)
            for (int64_t c = 0; c < n; ++c) emit((t * m + r) * n + c, static_cast<int64_t>(std::llround(product[r * n + c])), r, c);
    }
    return Status::ok();
}

/// The row count M and column count N of a matmul's operands (numpy rules for 1-D operands).
int64_t rowsOf(const TensorView& a) { return a.rank() == 1 ? 1 : a.shape[a.shape.size() - 2]; }
int64_t columnsOf(const TensorView& b) { return b.rank() == 1 ? 1 : b.shape.back(); }

class MatMulIntegerKernel : public Kernel {
public:
    std::string tacticName() const override { return "cpu.matmul_integer"; }
    Status run(const KernelIO& io) override {
        Status status;
        auto aZero = quantParameter(io, 2, rowsOf(io.input(0)), "a_zero_point", status);
        auto bZero = quantParameter(io, 3, columnsOf(io.input(1)), "b_zero_point", status);
        KILN_RETURN_IF_ERROR(status);
        int32_t* y = io.output(0).as<int32_t>();
        return integerMatMul(io.input(0), io.input(1), aZero, bZero, mScratch,
                             [&](int64_t i, int64_t acc, int64_t, int64_t) { y[i] = static_cast<int32_t>(acc); });
    }

private:
    GemmScratch mScratch;
};

/// Writes saturate(round(acc * multiplier) + zeroPoint) into a int8 or uint8 output.
void storeRequantized(const TensorView& y, int64_t i, int64_t acc, float multiplier, double zeroPoint) {
    if (y.dtype == DataType::kINT8)
        y.as<int8_t>()[i] = requantize<int8_t>(acc, multiplier, zeroPoint);
    else
        y.as<uint8_t>()[i] = requantize<uint8_t>(acc, multiplier, zeroPoint);
}

class QLinearMatMulKernel : public Kernel {
public:
    std::string tacticName() const override { return "cpu.qlinear_matmul"; }
    Status run(const KernelIO& io) override {
        Status status;
        const int64_t m = rowsOf(io.input(0)), n = columnsOf(io.input(3));
        auto aScale = quantParameter(io, 1, m, "a_scale", status);
        auto aZero = quantParameter(io, 2, m, "a_zero_point", status);
        auto bScale = quantParameter(io, 4, n, "b_scale", status);
        auto bZero = quantParameter(io, 5, n, "b_zero_point", status);
        auto yScale = quantParameter(io, 6, 1, "y_scale", status);
        auto yZero = quantParameter(io, 7, 1, "y_zero_point", status);
        KILN_RETURN_IF_ERROR(status);
        const TensorView& y = io.output(0);
        return integerMatMul(io.input(0), io.input(3), aZero, bZero, mScratch, [&](int64_t i, int64_t acc, int64_t r, int64_t c) {
            const float multiplier = requantizeMultiplier(aScale[aScale.size() == 1 ? 0 : static_cast<size_t>(r)],
                                                          bScale[bScale.size() == 1 ? 0 : static_cast<size_t>(c)], yScale[0]);
            storeRequantized(y, i, acc, multiplier, yZero[0]);
        });
    }

private:
    GemmScratch mScratch;
};

/// An N-d grouped convolution of zero-point-shifted integers as im2col + GEMM per (image, group);
/// calls emit(outputIndex, acc, outputChannel).
class IntegerConvolution {
public:
    IntegerConvolution(AttributeMap attrs) : mAttrs(std::move(attrs)) {}

    Status reshape(const Shape& x, const Shape& w) {
        if (x.size() < 3 || w.size() != x.size()) return invalidArgument("x " + shapeToString(x, true) + " and w " + shapeToString(w, true) + " must have one rank >= 3");
        const size_t n = x.size() - 2;
        KILN_ASSIGN_OR_RETURN(WindowSpec spec, parseWindowSpec(mAttrs, n, Shape(w.begin() + 2, w.end()), WindowKind::kConvolution));
        mGroup = mAttrs.getInt("group", 1);
        if (mGroup < 1 || x[1] != w[1] * mGroup || w[0] % mGroup != 0)
            return invalidArgument("channels of x " + shapeToString(x, true) + " and w " + shapeToString(w, true) + " do not fit group " + std::to_string(mGroup));
        mX = x;
        mW = w;
        mY = {x[0], w[0]};
        std::vector<AxisWindow> windows;
        for (size_t i = 0; i < n; ++i) {
            windows.push_back(forwardWindow(spec, i, x[2 + i]));
            mY.push_back(windows.back().output);
        }
        // For each kernel tap and output position, the input offset it reads (-1 in the padding).
        mKernelSize = shapeElementCount(spec.kernel);
        mOutPlane = shapeElementCount(Shape(mY.begin() + 2, mY.end()));
        mInPlane = shapeElementCount(Shape(mX.begin() + 2, mX.end()));
        mTapOffsets.assign(static_cast<size_t>(mKernelSize * mOutPlane), -1);
        std::vector<int64_t> outPos(n), kPos(n);
        for (int64_t kk = 0; kk < mKernelSize; ++kk) {
            for (size_t d = n, rest = static_cast<size_t>(kk); d-- > 0;) {
                kPos[d] = static_cast<int64_t>(rest) % spec.kernel[d];
                rest /= static_cast<size_t>(spec.kernel[d]);
            }
            for (int64_t p = 0; p < mOutPlane; ++p) {
                for (size_t d = n, rest = static_cast<size_t>(p); d-- > 0;) {
                    outPos[d] = static_cast<int64_t>(rest) % mY[2 + d];
                    rest /= static_cast<size_t>(mY[2 + d]);
                }
                int64_t offset = 0;
                bool inside = true;
                for (size_t d = 0; d < n && inside; ++d) {
                    int64_t at = outPos[d] * spec.strides[d] - windows[d].padBegin + kPos[d] * spec.dilations[d];
                    inside = at >= 0 && at < mX[2 + d];
                    offset = offset * mX[2 + d] + at;
                }
                if (inside) mTapOffsets[static_cast<size_t>(kk * mOutPlane + p)] = offset;
            }
        }
        return Status::ok();
    }
    int64_t outputChannels() const { return mW[0]; }

    template <typename Emit>
    void run(const TensorView& x, const TensorView& w, double xZero, const std::vector<double>& wZero, Emit&& emit) {
        const int64_t inPerGroup = mW[1], outPerGroup = mW[0] / mGroup;
        const int64_t depth = inPerGroup * mKernelSize;
        mWeights.resize(static_cast<size_t>(mW[0] * depth));
        loadDoubles(w, 0, mW[0] * depth, mWeights.data());
        for (int64_t oc = 0; oc < mW[0]; ++oc) {
            const double wz = wZero[wZero.size() == 1 ? 0 : static_cast<size_t>(oc)];
            for (int64_t j = 0; j < depth; ++j) mWeights[static_cast<size_t>(oc * depth + j)] -= wz;
        }
        mPlane.resize(static_cast<size_t>(mInPlane));
        mColumns.resize(static_cast<size_t>(depth * mOutPlane));
        mProduct.resize(static_cast<size_t>(outPerGroup * mOutPlane));
        cpu::GemmShape shape;
        shape.m = outPerGroup;
        shape.n = mOutPlane;
        shape.k = depth;
        shape.lda = std::max<int64_t>(depth, 1);
        shape.ldb = std::max<int64_t>(mOutPlane, 1);
        shape.ldc = std::max<int64_t>(mOutPlane, 1);
        for (int64_t b = 0; b < mX[0]; ++b)
            for (int64_t g = 0; g < mGroup; ++g) {
                // im2col of the shifted input; padding taps read the zero point, i.e. 0.
                for (int64_t ic = 0; ic < inPerGroup; ++ic) {
                    loadDoubles(x, (b * mX[1] + g * inPerGroup + ic) * mInPlane, mInPlane, mPlane.data());
                    for (int64_t kk = 0; kk < mKernelSize; ++kk) {
                        double* column = mColumns.data() + (ic * mKernelSize + kk) * mOutPlane;
                        const int64_t* taps = mTapOffsets.data() + kk * mOutPlane;
                        for (int64_t p = 0; p < mOutPlane; ++p) column[p] = taps[p] < 0 ? 0.0 : mPlane[static_cast<size_t>(taps[p])] - xZero;
                    }
                }
                if (outPerGroup * mOutPlane > 0)
                    cpu::gemmRowMajor(shape, 1.0, mWeights.data() + g * outPerGroup * depth, mColumns.data(), 0.0, mProduct.data());
                for (int64_t o = 0; o < outPerGroup; ++o) {
                    const int64_t oc = g * outPerGroup + o;
                    for (int64_t p = 0; p < mOutPlane; ++p)
                        emit((b * mW[0] + oc) * mOutPlane + p, static_cast<int64_t>(std::llround(mProduct[static_cast<size_t>(o * mOutPlane + p)])), oc);
                }
            }
    }

private:
    AttributeMap mAttrs;
    int64_t mGroup{1}, mKernelSize{0}, mOutPlane{0}, mInPlane{0};
    Shape mX, mW, mY;
    std::vector<int64_t> mTapOffsets;  // [kernel tap][output position]
    std::vector<double> mWeights, mPlane, mColumns, mProduct;
};

class ConvIntegerKernel : public Kernel {
public:
    explicit ConvIntegerKernel(AttributeMap attrs) : mConv(std::move(attrs)) {}
    std::string tacticName() const override { return "cpu.conv_integer_im2col_dgemm"; }
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        return mConv.reshape(inputs[0].shape, inputs[1].shape);
    }
    Status run(const KernelIO& io) override {
        Status status;
        auto xZero = quantParameter(io, 2, 1, "x_zero_point", status);
        auto wZero = quantParameter(io, 3, mConv.outputChannels(), "w_zero_point", status);
        KILN_RETURN_IF_ERROR(status);
        int32_t* y = io.output(0).as<int32_t>();
        mConv.run(io.input(0), io.input(1), xZero[0], wZero, [&](int64_t i, int64_t acc, int64_t) { y[i] = static_cast<int32_t>(acc); });
        return Status::ok();
    }

private:
    IntegerConvolution mConv;
};

class QLinearConvKernel : public Kernel {
public:
    explicit QLinearConvKernel(AttributeMap attrs) : mConv(std::move(attrs)) {}
    std::string tacticName() const override { return "cpu.qlinear_conv_im2col_dgemm"; }
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        return mConv.reshape(inputs[0].shape, inputs[3].shape);
    }
    Status run(const KernelIO& io) override {
        Status status;
        const int64_t channels = mConv.outputChannels();
        auto xScale = quantParameter(io, 1, 1, "x_scale", status);
        auto xZero = quantParameter(io, 2, 1, "x_zero_point", status);
        auto wScale = quantParameter(io, 4, channels, "w_scale", status);
        auto wZero = quantParameter(io, 5, channels, "w_zero_point", status);
        auto yScale = quantParameter(io, 6, 1, "y_scale", status);
        auto yZero = quantParameter(io, 7, 1, "y_zero_point", status);
        auto bias = quantParameter(io, 8, channels, "B", status);
        KILN_RETURN_IF_ERROR(status);
        const TensorView& y = io.output(0);
        mConv.run(io.input(0), io.input(3), xZero[0], wZero, [&](int64_t i, int64_t acc, int64_t oc) {
            const float multiplier =
                requantizeMultiplier(xScale[0], wScale[wScale.size() == 1 ? 0 : static_cast<size_t>(oc)], yScale[0]);
            storeRequantized(y, i, acc + static_cast<int64_t>(bias[bias.size() == 1 ? 0 : static_cast<size_t>(oc)]), multiplier, yZero[0]);
        });
        return Status::ok();
    }

private:
    IntegerConvolution mConv;
};

}  // namespace

void registerIntegerKernels(CpuKernelRegistry& registry) {
    registry.add({"MatMulInteger", nullptr,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<MatMulIntegerKernel>()); },
                  ""});
    registry.add({"QLinearMatMul", nullptr,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<QLinearMatMulKernel>()); },
                  ""});
    registry.add({"ConvInteger", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<ConvIntegerKernel>(node.attrs)); },
                  ""});
    registry.add({"QLinearConv", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<QLinearConvKernel>(node.attrs)); },
                  ""});
}

}  // namespace kiln::quantkernels
