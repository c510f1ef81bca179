// The epilogue of fused layers when the library that computed the product cannot fuse it: bias,
// residual and activation in one pass over the output.

#include "backends/cuda/cuda_status.h"
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
        y[i] = store<T>(applyActivation(activation, v));
    }
}

template <typename T, typename B>
Status launchEpilogue(T* y, const B* bias, const T* residual, FusedActivation activation, int64_t count,
                      int64_t channels, int64_t inner, cudaStream_t stream) {
    if (count == 0) return Status::ok();
    if (channels <= 0 || inner <= 0) return invalidArgument("bias epilogue: channels and inner extent must be positive");
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
