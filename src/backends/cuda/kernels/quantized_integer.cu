// The integer compute ops on the GPU: MatMulInteger and ConvInteger (int32 results of
// (a - a_zero_point) x (b - b_zero_point)), and QLinearMatMul and QLinearConv, which requantize that
// accumulator: y = saturate(round(acc * a_scale * b_scale / y_scale) + y_zero_point), by the CPU
// kernels' rules (backends/quantization_rules.h). Simple kernels, one thread per output element with an
// exact int64 accumulator: correctness first (every 8-bit product sum fits int64 far beyond any real
// depth). Zero points and scales are per tensor, or per row / output channel (A, W) and per column (B).

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/quantization_rules.h"
#include "ir/ops/conv_window.h"

namespace kiln::cuda {

namespace {

/// An optional per-tensor or per-index parameter (zero point or scale): `count` is 1 or the number
/// of indices; a null `data` reads as `absent`.
struct QuantParameter {
    const void* data{nullptr};
    DataType type{DataType::kUINT8};
    int64_t count{1};
    __device__ __forceinline__ double at(int64_t index, double absent) const {
        if (!data) return absent;
        return elementAsDouble(data, type, count == 1 ? 0 : index);
    }
};

/// Input `index` as a parameter with 1 or `entries` values; an error names it otherwise.
Expected<QuantParameter> parameterOf(const KernelIO& io, size_t index, int64_t entries, const char* what) {
    QuantParameter p;
    if (!io.hasInput(index)) return p;
    const TensorView& v = io.input(index);
    p.data = v.data;
    p.type = v.dtype;
    p.count = v.elementCount();
    if (p.count != 1 && p.count != entries)
        return invalidArgument(std::string(what) + " has " + std::to_string(p.count) + " entries; 1 or " +
                               std::to_string(entries) + " are allowed");
    return p;
}

/// What QLinear* adds to the accumulation: the scales and the output zero point (null `y` type: none).
struct Requantization {
    QuantParameter aScale, bScale, yScale, yZero;
    QuantParameter bias;  // QLinearConv's int32 B per output channel
};

/// The accumulator of output element `i` (row / channel `row`, column `column`) stored as int32 or
/// requantized to int8 / uint8.
__device__ __forceinline__ void storeAccumulator(void* y, DataType yType, int64_t i, int64_t acc, int64_t row,
                                                 int64_t column, const Requantization& q) {
    if (yType == DataType::kINT32) {
        static_cast<int32_t*>(y)[i] = static_cast<int32_t>(acc);
        return;
    }
    acc += static_cast<int64_t>(q.bias.at(row, 0.0));
    const float multiplier = requantizeMultiplier(q.aScale.at(row, 1.0), q.bScale.at(column, 1.0), q.yScale.at(0, 1.0));
    const double zero = q.yZero.at(0, 0.0);
    if (yType == DataType::kINT8)
        static_cast<int8_t*>(y)[i] = requantize<int8_t>(acc, multiplier, zero);
    else
        static_cast<uint8_t*>(y)[i] = requantize<uint8_t>(acc, multiplier, zero);
}

template <typename T>
__device__ __forceinline__ int64_t integerAt(const void* data, int64_t i) {
    return static_cast<int64_t>(static_cast<const T*>(data)[i]);
}

// ----------------------------------------------------------------------------------------- MatMul

/// A numpy matmul's layout: m x k times k x n over broadcast batch dims (`batch` plans them, in units
/// of whole matrices).
struct MatMulLayout {
    int64_t m, k, n;
    BroadcastPlan batch;
};

template <typename A, typename B>
__global__ void integerMatMulKernel(const void* a, const void* b, void* y, DataType yType, MatMulLayout layout,
                                    QuantParameter aZero, QuantParameter bZero, Requantization q) {
    const int64_t m = layout.m, k = layout.k, n = layout.n;
    const int64_t count = layout.batch.count * m * n;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const int64_t column = i % n, row = (i / n) % m, t = i / (m * n);
        int64_t offsets[2];
        broadcastOffsets<2>(layout.batch, t, offsets);
        const int64_t aBase = offsets[0] * m * k + row * k, bBase = offsets[1] * k * n + column;
        const int64_t az = static_cast<int64_t>(aZero.at(row, 0.0)), bz = static_cast<int64_t>(bZero.at(column, 0.0));
        int64_t acc = 0;
        for (int64_t j = 0; j < k; ++j)
            acc += (integerAt<A>(a, aBase + j) - az) * (integerAt<B>(b, bBase + j * n) - bz);
        storeAccumulator(y, yType, i, acc, row, column, q);
    }
}

/// MatMulInteger (inputs A, B, a_zero_point, b_zero_point) and QLinearMatMul (A, a_scale,
/// a_zero_point, B, b_scale, b_zero_point, y_scale, y_zero_point).
class IntegerMatMulKernel : public Kernel {
public:
    explicit IntegerMatMulKernel(bool qlinear) : mQLinear(qlinear) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        Shape as = inputs[0].shape, bs = inputs[mQLinear ? 3 : 1].shape;
        if (as.empty() || bs.empty()) return invalidArgument(tacticName() + ": A and B must have rank >= 1");
        if (as.size() == 1) as.insert(as.begin(), 1);
        if (bs.size() == 1) bs.push_back(1);
        mLayout.m = as[as.size() - 2];
        mLayout.k = as.back();
        mLayout.n = bs.back();
        if (bs[bs.size() - 2] != mLayout.k)
            return invalidArgument(tacticName() + ": inner dimensions differ: " + shapeToString(inputs[0].shape, true) +
                                   " x " + shapeToString(bs, true));
        Shape batchA(as.begin(), as.end() - 2), batchB(bs.begin(), bs.end() - 2);
        Shape batch(std::max(batchA.size(), batchB.size()));
        for (size_t d = 0; d < batch.size(); ++d) {
            const size_t fromEnd = batch.size() - d;
            const int64_t ea = fromEnd <= batchA.size() ? batchA[batchA.size() - fromEnd] : 1;
            const int64_t eb = fromEnd <= batchB.size() ? batchB[batchB.size() - fromEnd] : 1;
            if (ea != eb && ea != 1 && eb != 1)
                return invalidArgument(tacticName() + ": batch dimensions of " + shapeToString(as, true) + " and " +
                                       shapeToString(bs, true) + " do not broadcast");
            batch[d] = ea == 1 ? eb : ea;
        }
        KILN_ASSIGN_OR_RETURN(mLayout.batch, planBroadcast({batchA, batchB}, batch));
        mYType = outputs[0].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const int64_t count = mLayout.batch.count * mLayout.m * mLayout.n;
        if (count == 0) return Status::ok();
        const size_t bIndex = mQLinear ? 3 : 1;
        Requantization q;
        QuantParameter aZero, bZero;
        if (mQLinear) {
            KILN_ASSIGN_OR_RETURN(q.aScale, parameterOf(io, 1, mLayout.m, "a_scale"));
            KILN_ASSIGN_OR_RETURN(aZero, parameterOf(io, 2, mLayout.m, "a_zero_point"));
            KILN_ASSIGN_OR_RETURN(q.bScale, parameterOf(io, 4, mLayout.n, "b_scale"));
            KILN_ASSIGN_OR_RETURN(bZero, parameterOf(io, 5, mLayout.n, "b_zero_point"));
            KILN_ASSIGN_OR_RETURN(q.yScale, parameterOf(io, 6, 1, "y_scale"));
            KILN_ASSIGN_OR_RETURN(q.yZero, parameterOf(io, 7, 1, "y_zero_point"));
        } else {
            KILN_ASSIGN_OR_RETURN(aZero, parameterOf(io, 2, mLayout.m, "a_zero_point"));
            KILN_ASSIGN_OR_RETURN(bZero, parameterOf(io, 3, mLayout.n, "b_zero_point"));
        }
        auto stream = static_cast<cudaStream_t>(io.stream);
        const unsigned grid = elementwiseGrid(count);
        const bool aSigned = io.input(0).dtype == DataType::kINT8, bSigned = io.input(bIndex).dtype == DataType::kINT8;
        const void* a = io.input(0).data;
        const void* b = io.input(bIndex).data;
        void* y = io.output(0).data;
        if (aSigned && bSigned)
            integerMatMulKernel<int8_t, int8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(a, b, y, mYType, mLayout, aZero, bZero, q);
        else if (aSigned)
            integerMatMulKernel<int8_t, uint8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(a, b, y, mYType, mLayout, aZero, bZero, q);
        else if (bSigned)
            integerMatMulKernel<uint8_t, int8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(a, b, y, mYType, mLayout, aZero, bZero, q);
        else
            integerMatMulKernel<uint8_t, uint8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(a, b, y, mYType, mLayout, aZero, bZero, q);
        return launchStatus("integerMatMulKernel");
    }

    std::string tacticName() const override { return mQLinear ? "cuda.qlinear_matmul" : "cuda.matmul_integer"; }

private:
    bool mQLinear;
    MatMulLayout mLayout{};
    DataType mYType{DataType::kINT32};
};

// ------------------------------------------------------------------------------------------- Conv

constexpr int kMaxConvSpatial = 3;

/// An N-d grouped convolution's geometry (N <= kMaxConvSpatial).
struct ConvLayout {
    int spatial;
    int64_t batch, inChannels, outChannels, group;
    int64_t in[kMaxConvSpatial], out[kMaxConvSpatial], kernel[kMaxConvSpatial];
    int64_t stride[kMaxConvSpatial], dilation[kMaxConvSpatial], padBegin[kMaxConvSpatial];
    int64_t outPlane, kernelSize, inPlane;
};

template <typename X, typename W>
__global__ void integerConvKernel(const void* x, const void* w, void* y, DataType yType, ConvLayout c,
                                  QuantParameter xZero, QuantParameter wZero, Requantization q) {
    const int64_t count = c.batch * c.outChannels * c.outPlane;
    const int64_t inPerGroup = c.inChannels / c.group, outPerGroup = c.outChannels / c.group;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const int64_t position = i % c.outPlane, oc = (i / c.outPlane) % c.outChannels,
                      b = i / (c.outPlane * c.outChannels);
        const int64_t g = oc / outPerGroup;
        int64_t outPos[kMaxConvSpatial];
        int64_t remaining = position;
        for (int d = c.spatial - 1; d >= 0; --d) {
            outPos[d] = remaining % c.out[d];
            remaining /= c.out[d];
        }
        const int64_t xz = static_cast<int64_t>(xZero.at(0, 0.0)), wz = static_cast<int64_t>(wZero.at(oc, 0.0));
        int64_t acc = 0;
        for (int64_t ic = 0; ic < inPerGroup; ++ic) {
            const int64_t xChannel = (b * c.inChannels + g * inPerGroup + ic) * c.inPlane;
            const int64_t wChannel = (oc * inPerGroup + ic) * c.kernelSize;
            for (int64_t tap = 0; tap < c.kernelSize; ++tap) {
                int64_t offset = 0, rest = tap;
                bool inside = true;
                int64_t taps[kMaxConvSpatial];
                for (int d = c.spatial - 1; d >= 0; --d) {
                    taps[d] = rest % c.kernel[d];
                    rest /= c.kernel[d];
                }
                for (int d = 0; d < c.spatial && inside; ++d) {
                    const int64_t at = outPos[d] * c.stride[d] - c.padBegin[d] + taps[d] * c.dilation[d];
                    inside = at >= 0 && at < c.in[d];
                    offset = offset * c.in[d] + at;
                }
                if (inside)  // padding reads the zero point, which contributes 0
                    acc += (integerAt<X>(x, xChannel + offset) - xz) * (integerAt<W>(w, wChannel + tap) - wz);
            }
        }
        storeAccumulator(y, yType, i, acc, oc, 0, q);
    }
}

/// ConvInteger (x, w, x_zero_point, w_zero_point) and QLinearConv (x, x_scale, x_zero_point, w,
/// w_scale, w_zero_point, y_scale, y_zero_point, B).
class IntegerConvKernel : public Kernel {
public:
    IntegerConvKernel(bool qlinear, AttributeMap attrs) : mQLinear(qlinear), mAttrs(std::move(attrs)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        const Shape& w = inputs[mQLinear ? 3 : 1].shape;
        if (x.size() < 3 || w.size() != x.size() || x.size() - 2 > static_cast<size_t>(kMaxConvSpatial))
            return invalidArgument(tacticName() + ": x " + shapeToString(x, true) + " and w " + shapeToString(w, true) +
                                   " must share one rank in 3.." + std::to_string(kMaxConvSpatial + 2));
        const size_t n = x.size() - 2;
        KILN_ASSIGN_OR_RETURN(WindowSpec spec,
                              parseWindowSpec(mAttrs, n, Shape(w.begin() + 2, w.end()), WindowKind::kConvolution));
        const int64_t group = mAttrs.getInt("group", 1);
        if (group < 1 || x[1] != w[1] * group || w[0] % group != 0)
            return invalidArgument(tacticName() + ": channels of x " + shapeToString(x, true) + " and w " +
                                   shapeToString(w, true) + " do not fit group " + std::to_string(group));
        ConvLayout& c = mLayout;
        c = ConvLayout{};
        c.spatial = static_cast<int>(n);
        c.batch = x[0];
        c.inChannels = x[1];
        c.outChannels = w[0];
        c.group = group;
        c.outPlane = c.kernelSize = c.inPlane = 1;
        for (size_t d = 0; d < n; ++d) {
            const AxisWindow window = forwardWindow(spec, d, x[2 + d]);
            c.in[d] = x[2 + d];
            c.out[d] = window.output;
            c.kernel[d] = spec.kernel[d];
            c.stride[d] = spec.strides[d];
            c.dilation[d] = spec.dilations[d];
            c.padBegin[d] = window.padBegin;
            c.outPlane *= c.out[d];
            c.kernelSize *= c.kernel[d];
            c.inPlane *= c.in[d];
        }
        if (outputs[0].elementCount() != c.batch * c.outChannels * c.outPlane)
            return invalidArgument(tacticName() + ": the output " + shapeToString(outputs[0].shape, true) +
                                   " does not match the convolution's");
        mYType = outputs[0].dtype;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const int64_t count = mLayout.batch * mLayout.outChannels * mLayout.outPlane;
        if (count == 0) return Status::ok();
        const int64_t channels = mLayout.outChannels;
        const size_t wIndex = mQLinear ? 3 : 1;
        Requantization q;
        QuantParameter xZero, wZero;
        if (mQLinear) {
            // storeAccumulator indexes aScale by the output channel (its row): the weight scale goes
            // there, the per-tensor x_scale into bScale (a float product is the same either way round).
            KILN_ASSIGN_OR_RETURN(q.bScale, parameterOf(io, 1, 1, "x_scale"));
            KILN_ASSIGN_OR_RETURN(xZero, parameterOf(io, 2, 1, "x_zero_point"));
            KILN_ASSIGN_OR_RETURN(q.aScale, parameterOf(io, 4, channels, "w_scale"));
            KILN_ASSIGN_OR_RETURN(wZero, parameterOf(io, 5, channels, "w_zero_point"));
            KILN_ASSIGN_OR_RETURN(q.yScale, parameterOf(io, 6, 1, "y_scale"));
            KILN_ASSIGN_OR_RETURN(q.yZero, parameterOf(io, 7, 1, "y_zero_point"));
            KILN_ASSIGN_OR_RETURN(q.bias, parameterOf(io, 8, channels, "B"));
        } else {
            KILN_ASSIGN_OR_RETURN(xZero, parameterOf(io, 2, 1, "x_zero_point"));
            KILN_ASSIGN_OR_RETURN(wZero, parameterOf(io, 3, channels, "w_zero_point"));
        }
        auto stream = static_cast<cudaStream_t>(io.stream);
        const unsigned grid = elementwiseGrid(count);
        const bool xSigned = io.input(0).dtype == DataType::kINT8, wSigned = io.input(wIndex).dtype == DataType::kINT8;
        const void* x = io.input(0).data;
        const void* w = io.input(wIndex).data;
        void* y = io.output(0).data;
        if (xSigned && wSigned)
            integerConvKernel<int8_t, int8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(x, w, y, mYType, mLayout, xZero, wZero, q);
        else if (xSigned)
            integerConvKernel<int8_t, uint8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(x, w, y, mYType, mLayout, xZero, wZero, q);
        else if (wSigned)
            integerConvKernel<uint8_t, int8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(x, w, y, mYType, mLayout, xZero, wZero, q);
        else
            integerConvKernel<uint8_t, uint8_t>
                <<<grid, kElementwiseBlock, 0, stream>>>(x, w, y, mYType, mLayout, xZero, wZero, q);
        return launchStatus("integerConvKernel");
    }

    std::string tacticName() const override { return mQLinear ? "cuda.qlinear_conv" : "cuda.conv_integer"; }

private:
    bool mQLinear;
    AttributeMap mAttrs;
    ConvLayout mLayout{};
    DataType mYType{DataType::kINT32};
};

// ------------------------------------------------------------------------------------------ support

bool isByteInteger(const Value* v) {
    return v && (v->dtype == DataType::kINT8 || v->dtype == DataType::kUINT8);
}

/// The operands (inputs `first` and `second`) are int8 / uint8 and the output is int32 (MatMulInteger,
/// ConvInteger) or int8 / uint8 (QLinear*); a conv has at most kMaxConvSpatial spatial axes.
bool integerOpSupported(const Node& node, size_t first, size_t second, bool conv, std::string* reason) {
    const Value* y = node.outputs.empty() ? nullptr : node.outputs[0];
    const bool qlinear = node.opType.rfind("QLinear", 0) == 0;
    const bool outputOk = y && (qlinear ? isByteInteger(y) : y->dtype == DataType::kINT32);
    if (!isByteInteger(node.input(first)) || !isByteInteger(node.input(second)) || !outputOk) {
        if (reason)
            *reason = "the CUDA " + node.opType + " takes int8 / uint8 operands and gives " +
                      (qlinear ? "int8 / uint8" : "int32");
        return false;
    }
    if (conv && node.input(0)->shape.size() > static_cast<size_t>(kMaxConvSpatial + 2)) {
        if (reason)
            *reason = "the CUDA " + node.opType + " handles up to " + std::to_string(kMaxConvSpatial) + " spatial axes";
        return false;
    }
    return true;
}

}  // namespace

void registerQuantizedIntegerKernels(CudaKernelRegistry& registry) {
    registry.add({"MatMulInteger",
                  [](const Node& node, std::string* reason) { return integerOpSupported(node, 0, 1, false, reason); },
                  [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<IntegerMatMulKernel>(false));
                  }});
    registry.add({"QLinearMatMul",
                  [](const Node& node, std::string* reason) { return integerOpSupported(node, 0, 3, false, reason); },
                  [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<IntegerMatMulKernel>(true));
                  }});
    registry.add({"ConvInteger",
                  [](const Node& node, std::string* reason) { return integerOpSupported(node, 0, 1, true, reason); },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<IntegerConvKernel>(false, node.attrs));
                  }});
    registry.add({"QLinearConv",
                  [](const Node& node, std::string* reason) { return integerOpSupported(node, 0, 3, true, reason); },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<IntegerConvKernel>(true, node.attrs));
                  }});
}

}  // namespace kiln::cuda
