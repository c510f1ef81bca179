// Element-wise ops over mixed types: Cast and CastLike between every Kiln element type (the CPU's
// conversion rules: element_types.cuh castValue, and for the low-bit types -- float8, float4, int4,
// int2, ... stored one per byte -- common/low_precision_rules.h with Cast's `saturate` and
// `round_mode`), and Where (bool condition picking X or Y, any element
// type, three-way broadcasting). The comparisons are in elementwise_logic.cu.

#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

template <typename From, typename To>
__global__ void castKernel(const From* in, To* out, int64_t count) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = castValue<To>(in[i]);
}

// castKernel, V consecutive elements per thread (castValue on each); the count % V trailing elements
// are one per thread of the first threads. 32-bit index math: count < 2^31.
template <typename From, typename To, int V>
__global__ void castPackKernel(const From* in, To* out, uint32_t count) {
    const uint32_t packs = count / V;
    const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x;
    const uint32_t step = gridDim.x * blockDim.x;
    for (uint32_t p = first; p < packs; p += step) {
        From x[V];
        loadPacks<From, V>(in + p * V, x);
        To y[V];
#pragma unroll
        for (int k = 0; k < V; ++k) y[k] = castValue<To>(x[k]);
        storePacks<To, V>(out + p * V, y);
    }
    const uint32_t i = packs * V + first;
    if (i < count) out[i] = castValue<To>(in[i]);
}

/// The types castPackKernel converts between.
using PackCastTypes = DeviceTypes<float, __half, __nv_bfloat16>;
constexpr int kCastPack = 8;

/// Launches castPackKernel (true) when both types are PackCastTypes, the count fits 32-bit index math
/// and both addresses are aligned to their 8-element accesses (16 bytes at most); false otherwise.
bool launchCastPacks(DataType from, DataType to, const void* in, void* out, int64_t count, cudaStream_t stream) {
    if (!PackCastTypes::contains(from) || !PackCastTypes::contains(to) || count >= (int64_t{1} << 31)) return false;
    bool launched = false;
    PackCastTypes::dispatch(from, [&](auto fromTag) {
        using From = decltype(fromTag);
        PackCastTypes::dispatch(to, [&](auto toTag) {
            using To = decltype(toTag);
            if constexpr (!std::is_same_v<From, To>) {
                if (!addressesAligned(packAlignment<From>(kCastPack), {in}) ||
                    !addressesAligned(packAlignment<To>(kCastPack), {out}))
                    return;
                const int64_t threads = std::max<int64_t>(count / kCastPack, count % kCastPack);
                castPackKernel<From, To, kCastPack><<<elementwiseGrid(threads), kElementwiseBlock, 0, stream>>>(
                    static_cast<const From*>(in), static_cast<To*>(out), static_cast<uint32_t>(count));
                launched = true;
            }
        });
    });
    return launched;
}

template <typename From>
__global__ void castToLowBitKernel(const From* in, uint8_t* out, int64_t count, DataType to, LowBitCastMode mode) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = toLowBit(in[i], to, mode);
}

template <typename To>
__global__ void castFromLowBitKernel(const uint8_t* in, To* out, int64_t count, DataType from) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = fromLowBit<To>(in[i], from);
}

/// Every low-bit value is exact in double, so one low-bit type converts to another through it.
__global__ void castLowBitToLowBitKernel(const uint8_t* in, uint8_t* out, int64_t count, DataType from, DataType to,
                                         LowBitCastMode mode) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = lowbit::encode(to, lowbit::decode(from, in[i]), mode);
}

/// Cast's `round_mode` attribute (float8e8m0 targets); inference has checked its spelling.
E8M0Rounding e8m0RoundingOf(const Node& node) {
    const std::string mode = node.attrs.getString("round_mode", "up");
    if (mode == "down") return E8M0Rounding::kDown;
    if (mode == "nearest") return E8M0Rounding::kNearest;
    return E8M0Rounding::kUp;
}

class CastKernel : public Kernel {
public:
    CastKernel(DataType from, DataType to, LowBitCastMode mode) : mFrom(from), mTo(to), mMode(mode) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].dtype != mFrom || outputs[0].dtype != mTo ||
            inputs[0].elementCount() != outputs[0].elementCount())
            return invalidArgument(tacticName() + ": the input must be " + dataTypeName(mFrom) + " and the output " +
                                   dataTypeName(mTo) + ", of the same element count");
        mCount = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mFrom == mTo) {
            if (io.output(0).data == io.input(0).data) return Status::ok();
            KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(io.output(0).data, io.input(0).data,
                                                      static_cast<size_t>(mCount) * dataTypeSize(mTo),
                                                      cudaMemcpyDeviceToDevice, stream));
            return Status::ok();
        }
        if (launchCastPacks(mFrom, mTo, io.input(0).data, io.output(0).data, mCount, stream))
            return launchStatus("castPackKernel");
        const unsigned grid = elementwiseGrid(mCount);
        const bool lowBitFrom = lowbit::isLowBit(mFrom), lowBitTo = lowbit::isLowBit(mTo);
        if (lowBitFrom && lowBitTo) {
            castLowBitToLowBitKernel<<<grid, kElementwiseBlock, 0, stream>>>(
                static_cast<const uint8_t*>(io.input(0).data), static_cast<uint8_t*>(io.output(0).data), mCount, mFrom,
                mTo, mMode);
            return launchStatus("castLowBitToLowBitKernel");
        }
        if (lowBitFrom) {
            AllTypes::dispatch(mTo, [&](auto toTag) {
                using To = decltype(toTag);
                castFromLowBitKernel<To><<<grid, kElementwiseBlock, 0, stream>>>(
                    static_cast<const uint8_t*>(io.input(0).data), static_cast<To*>(io.output(0).data), mCount, mFrom);
            });
            return launchStatus("castFromLowBitKernel");
        }
        if (lowBitTo) {
            AllTypes::dispatch(mFrom, [&](auto fromTag) {
                using From = decltype(fromTag);
                castToLowBitKernel<From><<<grid, kElementwiseBlock, 0, stream>>>(
                    static_cast<const From*>(io.input(0).data), static_cast<uint8_t*>(io.output(0).data), mCount, mTo,
                    mMode);
            });
            return launchStatus("castToLowBitKernel");
        }
        AllTypes::dispatch(mFrom, [&](auto fromTag) {
            using From = decltype(fromTag);
            AllTypes::dispatch(mTo, [&](auto toTag) {
                using To = decltype(toTag);
                castKernel<From, To><<<grid, kElementwiseBlock, 0, stream>>>(
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
    LowBitCastMode mMode;
    int64_t mCount{0};
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

bool castSupported(const Node& node, std::string* reason) {
    if (!node.input(0) || !node.outputs[0]) {
        if (reason) *reason = "Cast needs an input and an output";
        return false;
    }
    auto castable = [](DataType t) { return AllTypes::contains(t) || lowbit::isLowBit(t); };
    if (!castable(node.input(0)->dtype) || !castable(node.outputs[0]->dtype)) {
        if (reason)
            *reason = std::string("no CUDA ") + node.opType + " from " + dataTypeName(node.input(0)->dtype) + " to " +
                      dataTypeName(node.outputs[0]->dtype);
        return false;
    }
    return true;
}

bool whereSupported(const Node& node, std::string* reason) {
    if (!node.input(0) || node.input(0)->dtype != DataType::kBOOL || !node.input(1) || !node.input(2)) {
        if (reason) *reason = "Where needs a bool condition, X and Y";
        return false;
    }
    return ranksAtMost(node, kMaxBroadcastRank, reason);
}

}  // namespace

void registerSelectCastKernels(CudaKernelRegistry& registry) {
    // CastLike is Cast with the target type taken from input 1: inference has set the output's type.
    for (const char* op : {"Cast", "CastLike"})
        registry.add({op, castSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                          LowBitCastMode mode;
                          mode.saturate = node.attrs.getInt("saturate", 1) != 0;
                          mode.e8m0Rounding = e8m0RoundingOf(node);
                          return std::unique_ptr<Kernel>(
                              std::make_unique<CastKernel>(node.input(0)->dtype, node.outputs[0]->dtype, mode));
                      },
                      /*lowBitTypes=*/true});
    registry.add({"Where", whereSupported, [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<WhereKernel>());
                  }});
}

}  // namespace kiln::cuda
