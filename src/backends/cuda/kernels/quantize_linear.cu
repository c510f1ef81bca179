// The linear quantizers on the GPU: QuantizeLinear y = saturate(round(x / scale) + zero_point) into
// int8, uint8, int16, uint16 or a low-bit type (int4, uint4, int2, uint2, float8, float4e2m1),
// DequantizeLinear y = (x - zero_point) * scale, each with a per-tensor, per-axis or blocked scale, and
// DynamicQuantizeLinear (uint8, scale and zero point from the input's range). The arithmetic is the
// CPU kernels' own (backends/quantization_rules.h, common/low_precision_rules.h), so the results agree
// bit for bit. Scales and zero points come in many types and are read through elementAsDouble.

#include <memory>
#include <optional>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/quantization_rules.h"

namespace kiln::cuda {

namespace {

/// What QuantizeLinear's and DequantizeLinear's element loops read: X, the scales and the optional
/// zero points (null: 0), each with its type, and the output.
struct LinearQuantization {
    const void* x;
    DataType xType;
    const void* scale;
    DataType scaleType;
    const void* zero;
    DataType zeroType;
    void* y;
    DataType yType;
    int64_t count;
    ScaleIndexer index;
    QuantizeDivision division;  // QuantizeLinear: the type x / scale is computed in
    LowBitCastMode mode;
};

__device__ __forceinline__ double zeroPointAt(const LinearQuantization& q, int64_t p) {
    return q.zero ? elementAsDouble(q.zero, q.zeroType, p) : 0.0;
}

__global__ void quantizeLinearKernel(LinearQuantization q) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < q.count; i += step) {
        const int64_t p = q.index(i);
        const double scaled =
            divideByScale(elementAsDouble(q.x, q.xType, i), elementAsDouble(q.scale, q.scaleType, p), q.division);
        const double zero = zeroPointAt(q, p);
        switch (q.yType) {
            case DataType::kINT8:
                static_cast<int8_t*>(q.y)[i] = quantizeInteger<int8_t>(scaled, zero);
                break;
            case DataType::kUINT8:
                static_cast<uint8_t*>(q.y)[i] = quantizeInteger<uint8_t>(scaled, zero);
                break;
            case DataType::kINT16:
                static_cast<int16_t*>(q.y)[i] = quantizeInteger<int16_t>(scaled, zero);
                break;
            case DataType::kUINT16:
                static_cast<uint16_t*>(q.y)[i] = quantizeInteger<uint16_t>(scaled, zero);
                break;
            default:
                static_cast<uint8_t*>(q.y)[i] = lowbit::quantize(q.yType, scaled, zero, q.mode);
                break;
        }
    }
}

template <typename T>
__global__ void dequantizeLinearKernel(LinearQuantization q) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < q.count; i += step) {
        const int64_t p = q.index(i);
        const double x = elementAsDouble(q.x, q.xType, i);
        const double scale = elementAsDouble(q.scale, q.scaleType, p);
        if constexpr (std::is_same_v<T, double>)
            static_cast<double*>(q.y)[i] = dequantizeInDouble(x, zeroPointAt(q, p), scale);
        else
            static_cast<T*>(q.y)[i] = store<T>(dequantizeInFloat(x, zeroPointAt(q, p), scale));
    }
}

class LinearQuantizationKernel : public Kernel {
public:
    LinearQuantizationKernel(bool quantize, bool hasZeroPoint, int64_t axis, int64_t blockSize, LowBitCastMode mode,
                             std::optional<QuantizeDivision> precision)
        : mQuantize(quantize), mHasZeroPoint(hasZeroPoint), mAxis(axis), mBlockSize(blockSize), mPrecision(precision) {
        mParams.mode = mode;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_RETURN_IF_ERROR(
            mIndex.reshape(inputs[0].shape, inputs[1].shape, mAxis, mBlockSize).withContext(tacticName()));
        if (mHasZeroPoint && inputs[2].elementCount() != inputs[1].elementCount())
            return invalidArgument(tacticName() + ": the zero point has " + std::to_string(inputs[2].elementCount()) +
                                   " entries and the scale " + std::to_string(inputs[1].elementCount()));
        mCount = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        LinearQuantization q = mParams;
        q.x = io.input(0).data;
        q.xType = io.input(0).dtype;
        q.scale = io.input(1).data;
        q.scaleType = io.input(1).dtype;
        q.zero = io.hasInput(2) ? io.input(2).data : nullptr;
        q.zeroType = io.hasInput(2) ? io.input(2).dtype : DataType::kUINT8;
        q.y = io.output(0).data;
        q.yType = io.output(0).dtype;
        q.count = mCount;
        q.index = mIndex;
        q.division = mPrecision.value_or(defaultQuantizeDivision(q.xType, q.scaleType));
        auto stream = static_cast<cudaStream_t>(io.stream);
        const unsigned grid = elementwiseGrid(mCount);
        if (mQuantize) {
            quantizeLinearKernel<<<grid, kElementwiseBlock, 0, stream>>>(q);
            return launchStatus("quantizeLinearKernel");
        }
        FloatTypes::dispatch(q.yType, [&](auto tag) {
            dequantizeLinearKernel<decltype(tag)><<<grid, kElementwiseBlock, 0, stream>>>(q);
        });
        return launchStatus("dequantizeLinearKernel");
    }

    std::string tacticName() const override { return mQuantize ? "cuda.quantize_linear" : "cuda.dequantize_linear"; }

private:
    bool mQuantize;
    bool mHasZeroPoint;  // the node has input 2 (zero points read at the scale's index)
    int64_t mAxis, mBlockSize;
    std::optional<QuantizeDivision> mPrecision;  // QuantizeLinear's `precision` attribute, when given
    ScaleIndexer mIndex;
    LinearQuantization mParams{};
    int64_t mCount{0};
};

// ------------------------------------------------------------------------------ DynamicQuantizeLinear

constexpr int kRangeBlock = 1024;

/// One block folds the range of x (starting from 0, NaN skipped as std::min / std::max skip it on the
/// CPU) and writes the scale and zero point to `params`.
__global__ void dynamicRangeKernel(const float* x, int64_t count, DynamicQuantization* params) {
    __shared__ float scratch[kRangeBlock / 32 + 1];
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = threadIdx.x; i < count; i += kRangeBlock) {
        lo = x[i] < lo ? x[i] : lo;
        hi = hi < x[i] ? x[i] : hi;
    }
    lo = blockReduce<kRangeBlock>(
        lo, scratch, [](float a, float b) { return fminf(a, b); }, 0.0f);
    hi = blockReduce<kRangeBlock>(
        hi, scratch, [](float a, float b) { return fmaxf(a, b); }, 0.0f);
    if (threadIdx.x == 0) *params = dynamicQuantization(lo, hi);
}

__global__ void dynamicQuantizeKernel(const float* x, int64_t count, const DynamicQuantization* params, uint8_t* y,
                                      float* scaleOut, uint8_t* zeroOut) {
    const DynamicQuantization q = *params;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    for (int64_t i = first; i < count; i += step) y[i] = dynamicQuantize(x[i], q);
    if (first == 0) {
        if (scaleOut) *scaleOut = q.scale;
        if (zeroOut) *zeroOut = static_cast<uint8_t>(q.zeroPoint);
    }
}

class DynamicQuantizeLinearKernel : public Kernel {
public:
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>&) override {
        mCount = inputs[0].elementCount();
        return Status::ok();
    }
    size_t workspaceSize() const override { return sizeof(DynamicQuantization); }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        auto* params = static_cast<DynamicQuantization*>(io.workspace);
        const float* x = io.input(0).as<const float>();
        dynamicRangeKernel<<<1, kRangeBlock, 0, stream>>>(x, mCount, params);
        KILN_RETURN_IF_ERROR(launchStatus("dynamicRangeKernel"));
        float* scaleOut = io.numOutputs > 1 ? io.output(1).as<float>() : nullptr;
        uint8_t* zeroOut = io.numOutputs > 2 ? io.output(2).as<uint8_t>() : nullptr;
        dynamicQuantizeKernel<<<elementwiseGrid(std::max<int64_t>(mCount, 1)), kElementwiseBlock, 0, stream>>>(
            x, mCount, params, io.output(0).as<uint8_t>(), scaleOut, zeroOut);
        return launchStatus("dynamicQuantizeKernel");
    }
    std::string tacticName() const override { return "cuda.dynamic_quantize_linear"; }

private:
    int64_t mCount{0};
};

// ------------------------------------------------------------------------------------------- support

bool isQuantizedIntegerType(DataType t) {
    return t == DataType::kINT8 || t == DataType::kUINT8 || t == DataType::kINT16 || t == DataType::kUINT16;
}

/// A scale or zero point the kernels can read: any numeric, bool or low-bit type.
bool readableType(DataType t) {
    return AllTypes::contains(t) || lowbit::isLowBit(t);
}

bool refuse(std::string* reason, const std::string& why) {
    if (reason) *reason = why;
    return false;
}

bool linearQuantizationSupported(const Node& node, bool quantize, std::string* reason) {
    const Value* x = node.input(0);
    const Value* scale = node.input(1);
    const Value* zero = node.input(2);
    const Value* y = node.outputs.empty() ? nullptr : node.outputs[0];
    if (!x || !scale || !y) return refuse(reason, node.opType + " needs x, a scale and an output");
    if (!readableType(scale->dtype) || (zero && !readableType(zero->dtype)))
        return refuse(reason, "no CUDA " + node.opType + " with a " + dataTypeName(scale->dtype) + " scale");
    if (quantize) {
        auto precision = quantizeDivisionOf(node.attrs.getInt("precision", 0));
        if (!precision) return refuse(reason, precision.status().message());
        const bool floatX = FloatTypes::contains(x->dtype) || x->dtype == DataType::kINT32;
        if (!floatX || !(isQuantizedIntegerType(y->dtype) || lowbit::isLowBit(y->dtype)))
            return refuse(reason, std::string("no CUDA QuantizeLinear from ") + dataTypeName(x->dtype) + " to " +
                                      dataTypeName(y->dtype));
        return true;
    }
    if (!FloatTypes::contains(y->dtype) || !readableType(x->dtype) || x->dtype == DataType::kBOOL)
        return refuse(reason, std::string("no CUDA DequantizeLinear from ") + dataTypeName(x->dtype) + " to " +
                                  dataTypeName(y->dtype));
    return true;
}

}  // namespace

void registerQuantizeLinearKernels(CudaKernelRegistry& registry) {
    registry.add({"QuantizeLinear",
                  [](const Node& node, std::string* reason) { return linearQuantizationSupported(node, true, reason); },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      LowBitCastMode mode;
                      mode.saturate = node.attrs.getInt("saturate", 1) != 0;
                      KILN_ASSIGN_OR_RETURN(auto precision, quantizeDivisionOf(node.attrs.getInt("precision", 0)));
                      return std::unique_ptr<Kernel>(std::make_unique<LinearQuantizationKernel>(
                          true, node.input(2) != nullptr, node.attrs.getInt("axis", 1),
                          node.attrs.getInt("block_size", 0), mode, precision));
                  },
                  /*lowBitTypes=*/true});
    registry.add(
        {"DequantizeLinear",
         [](const Node& node, std::string* reason) { return linearQuantizationSupported(node, false, reason); },
         [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
             return std::unique_ptr<Kernel>(std::make_unique<LinearQuantizationKernel>(
                 false, node.input(2) != nullptr, node.attrs.getInt("axis", 1), node.attrs.getInt("block_size", 0),
                 LowBitCastMode{}, std::nullopt));
         },
         /*lowBitTypes=*/true});
    registry.add({"DynamicQuantizeLinear",
                  [](const Node& node, std::string* reason) {
                      if (node.input(0) && node.input(0)->dtype == DataType::kFLOAT) return true;
                      return refuse(reason, "DynamicQuantizeLinear takes float input");
                  },
                  [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<DynamicQuantizeLinearKernel>());
                  }});
}

}  // namespace kiln::cuda
