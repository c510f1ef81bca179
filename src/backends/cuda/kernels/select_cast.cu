// Element-wise ops over mixed types: Cast between float, float16, double, int8, uint8, int32, int64 and
// bool;
// the comparisons Equal / Less / Greater (any numeric type, numpy broadcasting, bool result); and Where
// (bool condition picking X or Y, any element type, three-way broadcasting).

#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

/// Calls fn(T{}) with the C++ type of `type` on the device; false for a type without one here (the
/// 16-bit and unsigned 32/64-bit integers, bfloat16: rare in inference graphs, left out to bound the
/// number of Cast instantiations).
template <typename Fn>
bool dispatchDeviceType(DataType type, Fn&& fn) {
    switch (type) {
        case DataType::kFLOAT: fn(float{}); return true;
        case DataType::kHALF: fn(__half{}); return true;
        case DataType::kDOUBLE: fn(double{}); return true;
        case DataType::kINT8: fn(int8_t{}); return true;
        case DataType::kUINT8: fn(uint8_t{}); return true;
        case DataType::kINT32: fn(int32_t{}); return true;
        case DataType::kINT64: fn(int64_t{}); return true;
        case DataType::kBOOL: fn(bool{}); return true;
        default: return false;
    }
}

// Conversions go through double for the wide types and float for half, as C++ casts do on the CPU
// (float -> integer truncates toward zero; to bool is "not zero").
template <typename T>
__device__ __forceinline__ double toDouble(T v) {
    return static_cast<double>(v);
}
template <>
__device__ __forceinline__ double toDouble<__half>(__half v) {
    return static_cast<double>(__half2float(v));
}
template <typename T>
__device__ __forceinline__ T fromDouble(double v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half fromDouble<__half>(double v) {
    return __float2half_rn(static_cast<float>(v));
}
template <>
__device__ __forceinline__ bool fromDouble<bool>(double v) {
    return v != 0.0;
}

template <typename From, typename To>
__global__ void castKernel(const From* in, To* out, int64_t count) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        if constexpr (std::is_integral_v<From> && std::is_integral_v<To> && !std::is_same_v<To, bool>)
            out[i] = static_cast<To>(in[i]);  // exact for every integer pair, wrapping as C++ does
        else
            out[i] = fromDouble<To>(toDouble(in[i]));
    }
}

class CastKernel : public Kernel {
public:
    CastKernel(DataType from, DataType to) : mFrom(from), mTo(to) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mCount = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mFrom == mTo) {
            KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(io.output(0).data, io.input(0).data,
                                                      static_cast<size_t>(mCount) * dataTypeSize(mTo),
                                                      cudaMemcpyDeviceToDevice, stream));
            return Status::ok();
        }
        dispatchDeviceType(mFrom, [&](auto fromTag) {
            using From = decltype(fromTag);
            dispatchDeviceType(mTo, [&](auto toTag) {
                using To = decltype(toTag);
                castKernel<From, To><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(
                    static_cast<const From*>(io.input(0).data), static_cast<To*>(io.output(0).data), mCount);
            });
        });
        return launchStatus("castKernel");
    }

    std::string tacticName() const override {
        return std::string("cuda.cast_") + tacticTypeSuffix(mFrom) + "_to_" + tacticTypeSuffix(mTo);
    }

private:
    DataType mFrom, mTo;
    int64_t mCount{0};
};

// ------------------------------------------------------------------------------------------- comparisons

enum class Compare { kEqual, kLess, kGreater };

template <typename T, Compare kOp>
__global__ void compareKernel(const T* a, const T* b, bool* out, BroadcastPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        int64_t offsets[2];
        broadcastOffsets<2>(plan, i, offsets);
        const double x = toDouble(a[offsets[0]]);
        const double y = toDouble(b[offsets[1]]);
        if constexpr (kOp == Compare::kEqual) out[i] = x == y;
        else if constexpr (kOp == Compare::kLess) out[i] = x < y;
        else out[i] = x > y;
    }
}

template <Compare kOp>
class CompareKernel : public Kernel {
public:
    CompareKernel(DataType type, std::string tactic) : mType(type), mTactic(std::move(tactic)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_ASSIGN_OR_RETURN(mPlan, planBroadcast({inputs[0].shape, inputs[1].shape}, outputs[0].shape));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        dispatchDeviceType(mType, [&](auto tag) {
            using T = decltype(tag);
            compareKernel<T, kOp><<<elementwiseGrid(mPlan.count), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<const T*>(io.input(1).data),
                static_cast<bool*>(io.output(0).data), mPlan);
        });
        return launchStatus("compareKernel");
    }
    std::string tacticName() const override { return mTactic; }

private:
    DataType mType;
    std::string mTactic;
    BroadcastPlan mPlan;
};

// ------------------------------------------------------------------------------------------------- Where

template <typename Word>
__global__ void whereKernel(const bool* condition, const Word* x, const Word* y, Word* out, BroadcastPlan plan) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plan.count; i += step) {
        int64_t offsets[3];
        broadcastOffsets<3>(plan, i, offsets);
        out[i] = condition[offsets[0]] ? x[offsets[1]] : y[offsets[2]];
    }
}

class WhereKernel : public Kernel {
public:
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs[1].dtype != outputs[0].dtype || inputs[2].dtype != outputs[0].dtype)
            return invalidArgument(std::string("cuda.where: X, Y and the output must share one type; they are ") +
                                   dataTypeName(inputs[1].dtype) + ", " + dataTypeName(inputs[2].dtype) + " and " +
                                   dataTypeName(outputs[0].dtype));
        KILN_ASSIGN_OR_RETURN(mPlan, planBroadcast({inputs[0].shape, inputs[1].shape, inputs[2].shape}, outputs[0].shape));
        mElementSize = dataTypeSize(outputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const unsigned grid = elementwiseGrid(mPlan.count);
        const bool* c = static_cast<const bool*>(io.input(0).data);
        switch (mElementSize) {
            case 1: whereKernel<uint8_t><<<grid, kElementwiseBlock, 0, stream>>>(c, static_cast<const uint8_t*>(io.input(1).data), static_cast<const uint8_t*>(io.input(2).data), static_cast<uint8_t*>(io.output(0).data), mPlan); break;
            case 2: whereKernel<uint16_t><<<grid, kElementwiseBlock, 0, stream>>>(c, static_cast<const uint16_t*>(io.input(1).data), static_cast<const uint16_t*>(io.input(2).data), static_cast<uint16_t*>(io.output(0).data), mPlan); break;
            case 4: whereKernel<uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(c, static_cast<const uint32_t*>(io.input(1).data), static_cast<const uint32_t*>(io.input(2).data), static_cast<uint32_t*>(io.output(0).data), mPlan); break;
            case 8: whereKernel<uint64_t><<<grid, kElementwiseBlock, 0, stream>>>(c, static_cast<const uint64_t*>(io.input(1).data), static_cast<const uint64_t*>(io.input(2).data), static_cast<uint64_t*>(io.output(0).data), mPlan); break;
            default: return unsupported("Where: no kernel for " + std::to_string(mElementSize) + "-byte elements");
        }
        return launchStatus("whereKernel");
    }
    std::string tacticName() const override { return "cuda.where"; }

private:
    BroadcastPlan mPlan;
    size_t mElementSize{4};
};

bool hasDeviceType(DataType type) {
    return dispatchDeviceType(type, [](auto) {});
}

bool castSupported(const Node& node, std::string* reason) {
    if (!node.input(0) || !node.outputs[0]) {
        if (reason) *reason = "Cast needs an input and an output";
        return false;
    }
    if (!hasDeviceType(node.input(0)->dtype) || !hasDeviceType(node.outputs[0]->dtype)) {
        if (reason)
            *reason = std::string("no CUDA Cast from ") + dataTypeName(node.input(0)->dtype) + " to " +
                      dataTypeName(node.outputs[0]->dtype);
        return false;
    }
    return true;
}

bool compareSupported(const Node& node, std::string* reason) {
    if (!node.input(0) || !node.input(1) || node.input(0)->dtype != node.input(1)->dtype ||
        !hasDeviceType(node.input(0)->dtype)) {
        if (reason) *reason = "the comparison needs two inputs of one numeric type";
        return false;
    }
    return ranksAtMost(node, kMaxBroadcastRank, reason);
}

bool whereSupported(const Node& node, std::string* reason) {
    if (!node.input(0) || node.input(0)->dtype != DataType::kBOOL || !node.input(1) || !node.input(2)) {
        if (reason) *reason = "Where needs a bool condition, X and Y";
        return false;
    }
    return ranksAtMost(node, kMaxBroadcastRank, reason);
}

template <Compare kOp>
void registerCompare(CudaKernelRegistry& registry, const std::string& op, const std::string& name) {
    registry.add({op, compareSupported, [name](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      return std::unique_ptr<Kernel>(
                          std::make_unique<CompareKernel<kOp>>(type, "cuda." + name + "_" + tacticTypeSuffix(type)));
                  }});
}

}  // namespace

void registerSelectCastKernels(CudaKernelRegistry& registry) {
    registry.add({"Cast", castSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<CastKernel>(node.input(0)->dtype, node.outputs[0]->dtype));
                  }});
    registerCompare<Compare::kEqual>(registry, "Equal", "equal");
    registerCompare<Compare::kLess>(registry, "Less", "less");
    registerCompare<Compare::kGreater>(registry, "Greater", "greater");
    registry.add({"Where", whereSupported, [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<WhereKernel>());
                  }});
}

}  // namespace kiln::cuda
