// The epilogue of fused layers when the library that computed the product cannot fuse it: bias,
// residual and activation in one pass over the output (BERT's FFN1 output is [16384 x 3072]; a 16-bit
// output's GELU is fused_activation.h's geluForHalfPrecision, cheap enough to leave the pass bound by
// memory). Where the bias runs along the innermost dim (inner == 1, a GEMM's or an NHWC conv's
// output) and the channel count and the addresses allow, each thread moves V consecutive elements in
// 16-byte accesses; other shapes take the one-element kernel.

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/fused_activation.h"

namespace kiln::cuda {

namespace {

// Y and the residual are of type T, the bias of type B; the sum and the activation are computed in float.
template <typename T, typename B, typename IndexT>
__global__ void biasResidualActivationKernel(T* y, const B* bias, const T* residual, FusedActivation activation,
                                             IndexT count, IndexT channels, IndexT inner) {
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        float v = static_cast<float>(load(y[i]));
        if (bias) v += static_cast<float>(load(bias[(i / inner) % channels]));
        if (residual) v += static_cast<float>(load(residual[i]));
        y[i] = store<T>(applyActivationStoredAs<T>(activation, v));
    }
}

// V consecutive elements per thread, inner == 1 and channels % V == 0: a pack never straddles a row, so
// its bias is the V consecutive values from (i % channels). Same float math, in the same order, as
// biasResidualActivationKernel. count < 2^31 (32-bit index math); count % V == 0 as channels % V == 0.
template <typename T, typename B, int V>
__global__ void biasResidualActivationPackKernel(T* y, const B* bias, const T* residual, FusedActivation activation,
                                                 uint32_t packs, uint32_t channels) {
    const uint32_t step = gridDim.x * blockDim.x;
    for (uint32_t p = blockIdx.x * blockDim.x + threadIdx.x; p < packs; p += step) {
        const uint32_t i = p * V;
        T v[V];
        loadPacks<T, V>(y + i, v);
        float f[V];
#pragma unroll
        for (int k = 0; k < V; ++k) f[k] = static_cast<float>(load(v[k]));
        if (bias) {
            B b[V];
            loadPacks<B, V>(bias + i % channels, b);
#pragma unroll
            for (int k = 0; k < V; ++k) f[k] += static_cast<float>(load(b[k]));
        }
        if (residual) {
            T r[V];
            loadPacks<T, V>(residual + i, r);
#pragma unroll
            for (int k = 0; k < V; ++k) f[k] += static_cast<float>(load(r[k]));
        }
#pragma unroll
        for (int k = 0; k < V; ++k) v[k] = store<T>(applyActivationStoredAs<T>(activation, f[k]));
        storePacks<T, V>(y + i, v);
    }
}

/// The pack width of the vector kernel (1: none applies): the widest of 16/sizeof(T) elements, halving,
/// whose width divides `channels` and to whose accesses y, the residual and the bias (of its own type)
/// are aligned; only for inner == 1 and counts within 32-bit index math.
template <typename T, typename B>
int epiloguePackWidth(const T* y, const B* bias, const T* residual, int64_t count, int64_t channels, int64_t inner) {
    if (inner != 1 || count >= (int64_t{1} << 31)) return 1;
    int width = kWidestPack<T>;
    while (width > 1 && (channels % width != 0 || !addressesAligned(packAlignment<T>(width), {y, residual}) ||
                         !addressesAligned(packAlignment<B>(width), {bias})))
        width /= 2;
    return width;
}

template <typename T, typename B, int V>
Status launchEpiloguePacks(T* y, const B* bias, const T* residual, FusedActivation activation, int64_t count,
                           int64_t channels, cudaStream_t stream) {
    const int64_t packs = count / V;
    biasResidualActivationPackKernel<T, B, V><<<elementwiseGrid(packs), kElementwiseBlock, 0, stream>>>(
        y, bias, residual, activation, static_cast<uint32_t>(packs), static_cast<uint32_t>(channels));
    return launchStatus("biasResidualActivationPackKernel");
}

template <typename T, typename B>
Status launchEpilogue(T* y, const B* bias, const T* residual, FusedActivation activation, int64_t count,
                      int64_t channels, int64_t inner, cudaStream_t stream) {
    if (count == 0) return Status::ok();
    if (channels <= 0 || inner <= 0) return invalidArgument("bias epilogue: channels and inner extent must be positive");
    switch (epiloguePackWidth(y, bias, residual, count, channels, inner)) {
        case 8:
            if constexpr (kWidestPack<T> >= 8)
                return launchEpiloguePacks<T, B, 8>(y, bias, residual, activation, count, channels, stream);
            break;
        case 4: return launchEpiloguePacks<T, B, 4>(y, bias, residual, activation, count, channels, stream);
        case 2: return launchEpiloguePacks<T, B, 2>(y, bias, residual, activation, count, channels, stream);
        default: break;
    }
    const unsigned grid = elementwiseGrid(count);
    if (count < (int64_t{1} << 31))
        biasResidualActivationKernel<T, B, uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(
            y, bias, residual, activation, static_cast<uint32_t>(count), static_cast<uint32_t>(channels),
            static_cast<uint32_t>(inner));
    else
        biasResidualActivationKernel<T, B, int64_t>
            <<<grid, kElementwiseBlock, 0, stream>>>(y, bias, residual, activation, count, channels, inner);
    return launchStatus("biasResidualActivationKernel");
}

}  // namespace

Status launchBiasResidualActivation(float* y, const float* bias, const float* residual, FusedActivation activation,
                                    int64_t count, int64_t channels, int64_t inner, cudaStream_t stream) {
    return launchEpilogue<float, float>(y, bias, residual, activation, count, channels, inner, stream);
}

Status launchBiasResidualActivation(DataType type, void* y, DataType biasType, const void* bias, const void* residual,
                                    FusedActivation activation, int64_t count, int64_t channels, int64_t inner,
                                    cudaStream_t stream) {
    if (biasType != type && biasType != DataType::kFLOAT)
        return unsupported(std::string("bias epilogue: a ") + dataTypeName(biasType) + " bias on " +
                           dataTypeName(type) + " data");
    const bool floatBias = biasType == DataType::kFLOAT;
    return DeviceTypes<float, __half, __nv_bfloat16>::dispatchStatus(
        type, unsupported(std::string("bias epilogue: no kernel for ") + dataTypeName(type)), [&](auto tag) {
            using T = decltype(tag);
            if (floatBias)
                return launchEpilogue<T, float>(static_cast<T*>(y), static_cast<const float*>(bias),
                                                static_cast<const T*>(residual), activation, count, channels, inner,
                                                stream);
            return launchEpilogue<T, T>(static_cast<T*>(y), static_cast<const T*>(bias),
                                        static_cast<const T*>(residual), activation, count, channels, inner, stream);
        });
}

}  // namespace kiln::cuda
