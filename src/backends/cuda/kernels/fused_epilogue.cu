// The epilogue of fused layers when the library that computed the product cannot fuse it: bias,
// residual and activation in one pass over the output.

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/fused_activation.h"

namespace kiln::cuda {

namespace {

template <typename T, typename IndexT>
__global__ void biasResidualActivationKernel(T* y, const T* bias, const T* residual, FusedActivation activation,
                                             IndexT count, IndexT channels, IndexT inner) {
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        float v = toFloat(y[i]);
        if (bias) v += toFloat(bias[(i / inner) % channels]);
        if (residual) v += toFloat(residual[i]);
        y[i] = fromFloat<T>(applyActivation(activation, v));
    }
}

template <typename T>
Status launchEpilogue(T* y, const T* bias, const T* residual, FusedActivation activation, int64_t count,
                      int64_t channels, int64_t inner, cudaStream_t stream) {
    if (count == 0) return Status::ok();
    if (channels <= 0 || inner <= 0) return invalidArgument("bias epilogue: channels and inner extent must be positive");
    const unsigned grid = elementwiseGrid(count);
    if (count < (int64_t{1} << 31))
        biasResidualActivationKernel<T, uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(
            y, bias, residual, activation, static_cast<uint32_t>(count), static_cast<uint32_t>(channels),
            static_cast<uint32_t>(inner));
    else
        biasResidualActivationKernel<T, int64_t>
            <<<grid, kElementwiseBlock, 0, stream>>>(y, bias, residual, activation, count, channels, inner);
    return launchStatus("biasResidualActivationKernel");
}

}  // namespace

Status launchBiasResidualActivation(float* y, const float* bias, const float* residual, FusedActivation activation,
                                    int64_t count, int64_t channels, int64_t inner, cudaStream_t stream) {
    return launchEpilogue(y, bias, residual, activation, count, channels, inner, stream);
}

Status launchBiasResidualActivation(__half* y, const __half* bias, const __half* residual, FusedActivation activation,
                                    int64_t count, int64_t channels, int64_t inner, cudaStream_t stream) {
    return launchEpilogue(y, bias, residual, activation, count, channels, inner, stream);
}

}  // namespace kiln::cuda
